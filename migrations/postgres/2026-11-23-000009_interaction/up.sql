-- Interaction: surveys and feedback (NPS, CSAT, text with its sentiment),
-- complaint cases with SLA and status history, and "you spoke, we listened"
-- announcements.
CREATE TABLE surveys (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,              -- nps | csat | text
    question     TEXT NOT NULL,
    channels     TEXT NOT NULL,              -- JSON array of channels it is asked on
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE feedback (
    id               TEXT PRIMARY KEY NOT NULL,
    profile_id       TEXT NOT NULL REFERENCES profiles(id),
    event_id         TEXT NOT NULL,          -- the timeline event it also is
    survey_id        TEXT,
    kind             TEXT NOT NULL,
    score            BIGINT,
    body             TEXT,
    category         TEXT,
    channel          TEXT NOT NULL,
    sentiment_label  TEXT,
    sentiment_score  DOUBLE PRECISION,
    order_id         TEXT,
    case_id          TEXT,
    occurred_at      BIGINT NOT NULL,
    received_at      BIGINT NOT NULL
);
CREATE INDEX feedback_time ON feedback (occurred_at);
CREATE INDEX feedback_profile ON feedback (profile_id, occurred_at);
CREATE INDEX feedback_negative ON feedback (category, occurred_at) WHERE sentiment_label = 'negative';

CREATE TABLE cases (
    id            TEXT PRIMARY KEY NOT NULL,
    profile_id    TEXT NOT NULL REFERENCES profiles(id),
    category      TEXT NOT NULL,
    priority      TEXT NOT NULL,
    channel       TEXT NOT NULL,
    subject       TEXT NOT NULL,
    description   TEXT NOT NULL,
    status        TEXT NOT NULL,
    assignee      TEXT,
    resolution    TEXT,
    due_at        BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    resolved_at   BIGINT,
    resolved_by   TEXT
);
CREATE INDEX cases_profile ON cases (profile_id, created_at);
CREATE INDEX cases_status ON cases (status, due_at);
CREATE INDEX cases_created ON cases (created_at);

CREATE TABLE case_history (
    id          TEXT PRIMARY KEY NOT NULL,
    case_id     TEXT NOT NULL REFERENCES cases(id),
    status      TEXT NOT NULL,
    assignee    TEXT,
    note        TEXT,
    actor       TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX case_history_case ON case_history (case_id, at);

CREATE TABLE improvements (
    id            TEXT PRIMARY KEY NOT NULL,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL,
    categories    TEXT NOT NULL,             -- JSON array of feedback categories it answers
    channel       TEXT NOT NULL,             -- the consent channel to tell people on
    published_at  BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
