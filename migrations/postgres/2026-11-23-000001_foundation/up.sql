-- Foundation: sources, keys, operators, profiles, identities, events, merge log.
-- Times are UTC microseconds since the Unix epoch (BIGINT); ids are UUIDv7 text.

CREATE TABLE sources (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,              -- first characters, to recognise a key in lists
    key_hash      TEXT NOT NULL UNIQUE,       -- SHA-256 of the whole key; the key itself is never stored
    scopes        TEXT NOT NULL,              -- space separated
    source_id     TEXT REFERENCES sources(id),
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY NOT NULL,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,             -- argon2id PHC string
    role           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    disabled_at    BIGINT
);

CREATE TABLE profiles (
    id             TEXT PRIMARY KEY NOT NULL,
    merged_into    TEXT,                      -- the survivor, once merged away
    user_id        TEXT,                      -- the one user_id the profile may hold
    traits         TEXT NOT NULL,             -- JSON object
    trait_times    TEXT NOT NULL,             -- JSON object: trait -> occurred_at of the event that set it
    channels       BIGINT NOT NULL,           -- bit set of channels seen
    first_seen_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    event_count    BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX profiles_merged_into ON profiles (merged_into) WHERE merged_into IS NOT NULL;

-- One identity belongs to one profile: the key decides races between writers.
CREATE TABLE identities (
    value          TEXT NOT NULL,
    identity_type  TEXT NOT NULL,
    profile_id     TEXT NOT NULL REFERENCES profiles(id),
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (value, identity_type)
);
CREATE INDEX identities_profile ON identities (profile_id);

CREATE TABLE events (
    id           TEXT PRIMARY KEY NOT NULL,
    profile_id   TEXT NOT NULL REFERENCES profiles(id),
    source_key   TEXT NOT NULL,               -- dedupe scope: the source, or the key bound to none
    source_id    TEXT,
    message_id   TEXT,
    event_type   TEXT NOT NULL,
    name         TEXT,
    channel      TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    identities   TEXT NOT NULL,               -- JSON array of {type, value}
    traits       TEXT NOT NULL,
    properties   TEXT NOT NULL,
    context      TEXT NOT NULL
);
CREATE UNIQUE INDEX events_dedupe ON events (source_key, message_id);
CREATE INDEX events_profile_time ON events (profile_id, occurred_at, id);

-- Why profiles are what they are: every merge, and every merge refused.
CREATE TABLE merges (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,            -- merge | conflict
    survivor_id     TEXT NOT NULL,
    merged_id       TEXT NOT NULL,
    identity_type   TEXT NOT NULL,
    identity_value  TEXT NOT NULL,
    event_id        TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX merges_survivor ON merges (survivor_id);
CREATE INDEX merges_merged ON merges (merged_id);
