-- Consent per contact channel with its full history, and preferences with theirs.
CREATE TABLE consents (
    id           TEXT PRIMARY KEY NOT NULL,
    profile_id   TEXT NOT NULL REFERENCES profiles(id),
    channel      TEXT NOT NULL,              -- email | sms | zalo | push | phone | facebook
    status       TEXT NOT NULL,              -- granted | denied
    source       TEXT NOT NULL,              -- where the customer said it (a form, the hotline, an event's source…)
    recorded_at  BIGINT NOT NULL,            -- when the customer decided: the latest decision wins
    received_at  BIGINT NOT NULL,
    actor        TEXT NOT NULL               -- which key or user recorded it
);
CREATE INDEX consents_profile ON consents (profile_id, channel, recorded_at);

-- The decision in force per profile and channel, for filtering audiences.
CREATE TABLE consent_state (
    profile_id   TEXT NOT NULL REFERENCES profiles(id),
    channel      TEXT NOT NULL,
    status       TEXT NOT NULL,
    recorded_at  BIGINT NOT NULL,
    consent_id   TEXT NOT NULL,
    PRIMARY KEY (profile_id, channel)
);

CREATE TABLE preferences (
    id           TEXT PRIMARY KEY NOT NULL,
    profile_id   TEXT NOT NULL REFERENCES profiles(id),
    body         TEXT NOT NULL,              -- JSON: preferred_channel, language, favourite_categories, contact_hours
    recorded_at  BIGINT NOT NULL,
    actor        TEXT NOT NULL
);
CREATE INDEX preferences_profile ON preferences (profile_id, recorded_at);
