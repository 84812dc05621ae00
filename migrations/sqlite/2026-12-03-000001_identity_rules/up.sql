-- Identity rules: one document (limits and priorities per identifier type,
-- blocked values and patterns), changed by operators, read by ingestion.
CREATE TABLE identity_rules (
    id          INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    body        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);

-- How many values of each identifier type a profile holds (JSON object), read
-- with the profile's row so that limits are checked against its latest version.
ALTER TABLE profiles ADD COLUMN identity_counts TEXT NOT NULL DEFAULT '{}';
UPDATE profiles SET identity_counts = COALESCE(
    (SELECT json_group_object(identity_type, n)
       FROM (SELECT identity_type, COUNT(*) AS n FROM identities WHERE profile_id = profiles.id GROUP BY identity_type)),
    '{}')
WHERE merged_into IS NULL;

-- Why a conflict linked nothing (`limit`…); NULL for merges.
ALTER TABLE merges ADD COLUMN reason TEXT;
UPDATE merges SET reason = 'limit' WHERE kind = 'conflict';

-- Identities an event carried that never link (blocked values, placeholders): JSON array or NULL.
ALTER TABLE events ADD COLUMN blocked_identities TEXT;
