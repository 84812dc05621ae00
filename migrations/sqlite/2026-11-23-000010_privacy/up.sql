-- Privacy: erased profiles stay as anonymous shells (their aggregates count,
-- nothing personal remains), tombstones of their hashed identities refuse
-- replays of old events, and an audit log records who read, exported or
-- erased whom.
CREATE TABLE erased_profiles (
    profile_id  TEXT PRIMARY KEY NOT NULL REFERENCES profiles(id),
    erased_at   BIGINT NOT NULL,
    erased_by   TEXT NOT NULL
);

CREATE TABLE erased_identities (
    hash        TEXT PRIMARY KEY NOT NULL,   -- hex SHA-256 of "type:value" (normalised)
    erased_at   BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY NOT NULL,
    actor       TEXT NOT NULL,               -- key:<id> or user:<id>
    action      TEXT NOT NULL,               -- profile.read | profile.export | profile.erase | …
    profile_id  TEXT,
    detail      TEXT NOT NULL,               -- JSON
    at          BIGINT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (at);
CREATE INDEX audit_log_profile ON audit_log (profile_id, at);
