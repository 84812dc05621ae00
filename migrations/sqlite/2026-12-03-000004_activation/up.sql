-- Destinations: where facts about customers are delivered (outbound webhooks).
CREATE TABLE destinations (
    id               TEXT PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    url              TEXT NOT NULL,
    secret           TEXT NOT NULL,          -- whsec_… (the key signing every delivery)
    events           TEXT NOT NULL,          -- JSON array of subscribed event types
    segment_ids      TEXT NOT NULL,          -- JSON array; empty = facts about anyone
    consent_channel  TEXT,                   -- with consent_purpose: only people who granted it
    consent_purpose  TEXT,
    enabled          BOOLEAN NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- The outbox: one row per fact and destination, written in the fact's own
-- transaction; delivery workers lease due rows (lease_until) and record each attempt.
CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY NOT NULL,   -- webhook-id, the same on every attempt
    destination_id    TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    profile_id        TEXT NOT NULL,
    data              TEXT NOT NULL,               -- JSON: the fact
    occurred_at       BIGINT NOT NULL,
    status            TEXT NOT NULL,               -- pending | delivered | failed | suppressed
    attempts          INTEGER NOT NULL,
    next_attempt_at   BIGINT NOT NULL,
    lease_until       BIGINT,
    last_status_code  INTEGER,
    last_error        TEXT,
    body              TEXT,                        -- what was sent, fixed at the first attempt
    created_at        BIGINT NOT NULL,
    delivered_at      BIGINT
);
CREATE INDEX deliveries_due ON deliveries (destination_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_log ON deliveries (destination_id, created_at, id);
CREATE INDEX deliveries_profile ON deliveries (profile_id);

-- Runs of scheduled work: one row per job and schedule slot, so that a slot
-- runs once however many processes see it due.
CREATE TABLE job_runs (
    id           TEXT PRIMARY KEY NOT NULL,
    job          TEXT NOT NULL,             -- segment.refresh:<id> | loyalty.expire
    slot         BIGINT NOT NULL,           -- the scheduled time (µs) this run is for
    status       TEXT NOT NULL,             -- running | succeeded | failed
    detail       TEXT,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    UNIQUE (job, slot)
);
CREATE INDEX job_runs_recent ON job_runs (started_at);

ALTER TABLE segments ADD COLUMN refresh_every_minutes INTEGER;

-- Consent per purpose, with what proves it.
ALTER TABLE consents ADD COLUMN purpose TEXT NOT NULL DEFAULT 'marketing';
ALTER TABLE consents ADD COLUMN collected_by TEXT;
ALTER TABLE consents ADD COLUMN policy_version TEXT;
ALTER TABLE consents ADD COLUMN evidence TEXT;
CREATE TABLE consent_state_new (
    profile_id   TEXT NOT NULL REFERENCES profiles(id),
    channel      TEXT NOT NULL,
    purpose      TEXT NOT NULL DEFAULT 'marketing',
    status       TEXT NOT NULL,
    recorded_at  BIGINT NOT NULL,
    consent_id   TEXT NOT NULL,
    PRIMARY KEY (profile_id, channel, purpose)
);
INSERT INTO consent_state_new SELECT profile_id, channel, 'marketing', status, recorded_at, consent_id FROM consent_state;
DROP TABLE consent_state;
ALTER TABLE consent_state_new RENAME TO consent_state;
