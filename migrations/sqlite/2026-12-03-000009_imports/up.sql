-- CSV imports run as background jobs: the file as uploaded (in pieces), the
-- job's progress (the records done so far, committed), and the rows refused.
CREATE TABLE imports (
    id            TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL,          -- customers | orders
    status        TEXT NOT NULL,          -- queued | running | succeeded | failed
    options       TEXT NOT NULL,
    chunks        INTEGER NOT NULL,
    bytes         BIGINT NOT NULL,
    rows_read     BIGINT NOT NULL,
    imported      BIGINT NOT NULL,
    duplicates    BIGINT NOT NULL,
    rejected      BIGINT NOT NULL,
    error_count   BIGINT NOT NULL,
    message       TEXT,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    lease_until   BIGINT
);
CREATE INDEX imports_pending ON imports (status, lease_until);

CREATE TABLE import_chunks (
    import_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (import_id, seq)
);

CREATE TABLE import_errors (
    import_id  TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    row_number BIGINT NOT NULL,
    field      TEXT NOT NULL,
    code       TEXT NOT NULL,
    message    TEXT NOT NULL,
    PRIMARY KEY (import_id, seq)
);
