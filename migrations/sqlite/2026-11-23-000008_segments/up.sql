-- Segments: a named rule (a JSON condition tree) with its versions, and the
-- membership it produced, kept as periods so entries and exits are answerable.
CREATE TABLE segments (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    rule          TEXT NOT NULL,              -- JSON, the current version
    version       INTEGER NOT NULL,
    size          BIGINT NOT NULL,            -- members after the last refresh
    entered       BIGINT NOT NULL,            -- entries of the last refresh
    exited        BIGINT NOT NULL,            -- exits of the last refresh
    refreshed_at  BIGINT,                     -- when the last refresh ran
    as_of         BIGINT,                     -- the reference time it evaluated at
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE segment_versions (
    segment_id    TEXT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    rule          TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (segment_id, version)
);

-- One row per membership period; exited_at is null while the person is in.
CREATE TABLE segment_members (
    segment_id    TEXT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    profile_id    TEXT NOT NULL,
    entered_at    BIGINT NOT NULL,
    exited_at     BIGINT,
    PRIMARY KEY (segment_id, entered_at, profile_id)   -- also serves "who entered after T"
);
CREATE UNIQUE INDEX segment_members_current ON segment_members (segment_id, profile_id) WHERE exited_at IS NULL;
CREATE INDEX segment_members_exited ON segment_members (segment_id, exited_at) WHERE exited_at IS NOT NULL;
