-- Undoing a merge: when it was undone, and what the merge knew of both sides
-- (their loyalty tiers: JSON), and pairs of profiles kept apart afterwards
-- (a < b), which ingestion never merges again.
ALTER TABLE merges ADD COLUMN undone_at BIGINT;
ALTER TABLE merges ADD COLUMN detail TEXT;
CREATE TABLE kept_apart (
    a           TEXT NOT NULL,
    b           TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (a, b)
);
CREATE INDEX kept_apart_b ON kept_apart (b);
