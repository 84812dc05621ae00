CREATE TABLE segment_members_old (
    segment_id    TEXT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    profile_id    TEXT NOT NULL,
    entered_at    BIGINT NOT NULL,
    exited_at     BIGINT,
    PRIMARY KEY (segment_id, entered_at, profile_id)
);
INSERT INTO segment_members_old SELECT segment_id, profile_id, entered_at, exited_at FROM segment_members;
DROP TABLE segment_members;
ALTER TABLE segment_members_old RENAME TO segment_members;
CREATE UNIQUE INDEX segment_members_current ON segment_members (segment_id, profile_id) WHERE exited_at IS NULL;
CREATE INDEX segment_members_exited ON segment_members (segment_id, exited_at) WHERE exited_at IS NOT NULL;
