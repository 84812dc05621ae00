CREATE TABLE identities_rowid (
    value              TEXT NOT NULL,
    identity_type      TEXT NOT NULL,
    profile_id         TEXT NOT NULL REFERENCES profiles(id),
    created_at         BIGINT NOT NULL,
    origin_profile_id  TEXT,
    PRIMARY KEY (value, identity_type)
);
INSERT INTO identities_rowid (value, identity_type, profile_id, created_at, origin_profile_id)
    SELECT value, identity_type, profile_id, created_at, origin_profile_id FROM identities;
DROP TABLE identities;
ALTER TABLE identities_rowid RENAME TO identities;
CREATE INDEX identities_profile ON identities (profile_id);
