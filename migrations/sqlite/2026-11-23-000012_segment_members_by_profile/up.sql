-- Membership periods keyed by (segment, profile, entered_at) and stored in that
-- order (WITHOUT ROWID: one B-tree), the order in which members are exported
-- and changes listed; no separate index of current members (a refresh is the
-- only writer of its segment's periods) and no foreign key to segments
-- (deleting a segment deletes its members explicitly) — as on PostgreSQL.
CREATE TABLE segment_members_new (
    segment_id    TEXT NOT NULL,
    profile_id    TEXT NOT NULL,
    entered_at    BIGINT NOT NULL,
    exited_at     BIGINT,
    PRIMARY KEY (segment_id, profile_id, entered_at)
) WITHOUT ROWID;
INSERT INTO segment_members_new SELECT segment_id, profile_id, entered_at, exited_at FROM segment_members;
DROP TABLE segment_members;
ALTER TABLE segment_members_new RENAME TO segment_members;
CREATE INDEX segment_members_exited ON segment_members (segment_id, exited_at) WHERE exited_at IS NOT NULL;
