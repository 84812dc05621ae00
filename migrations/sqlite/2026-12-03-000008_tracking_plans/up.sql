-- Tracking plans: per source, the events it may send and their properties' JSON Schemas.
CREATE TABLE tracking_plans (
    source_id   TEXT PRIMARY KEY NOT NULL,
    body        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);

-- Events that broke their source's plan: blocked (refused) or allowed (stored, then event_id names them).
CREATE TABLE tracking_violations (
    id           TEXT PRIMARY KEY NOT NULL,
    source_id    TEXT NOT NULL,
    event_name   TEXT NOT NULL,
    message_id   TEXT,
    kind         TEXT NOT NULL,          -- unplanned | invalid
    path         TEXT NOT NULL,
    message      TEXT NOT NULL,
    blocked      BOOLEAN NOT NULL,
    event_id     TEXT,
    received_at  BIGINT NOT NULL
);
CREATE INDEX tracking_violations_log ON tracking_violations (source_id, received_at, id);
