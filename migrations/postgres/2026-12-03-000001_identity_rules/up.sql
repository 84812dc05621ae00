-- Identity rules: one document (limits and priorities per identifier type,
-- blocked values and patterns), changed by operators, read by ingestion.
CREATE TABLE identity_rules (
    id          INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    body        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);

-- How many values of each identifier type a profile holds (JSON object), read
-- with the profile's row (locked) so that limits are checked against its
-- latest version whatever other writers did.
ALTER TABLE profiles ADD COLUMN identity_counts TEXT NOT NULL DEFAULT '{}';
ALTER TABLE profiles ALTER COLUMN identity_counts SET STATISTICS 0;
UPDATE profiles p SET identity_counts = c.body
  FROM (SELECT profile_id, json_object_agg(identity_type, n)::text AS body
          FROM (SELECT profile_id, identity_type, count(*) AS n FROM identities GROUP BY profile_id, identity_type) x
         GROUP BY profile_id) c
 WHERE c.profile_id = p.id AND p.merged_into IS NULL;

-- Why a conflict linked nothing (`limit`…); NULL for merges.
ALTER TABLE merges ADD COLUMN reason TEXT;
UPDATE merges SET reason = 'limit' WHERE kind = 'conflict';

-- Identities an event carried that never link (blocked values, placeholders): JSON array or NULL.
ALTER TABLE events ADD COLUMN blocked_identities TEXT;
ALTER TABLE events ALTER COLUMN blocked_identities SET STATISTICS 0;
