ALTER TABLE events DROP COLUMN blocked_identities;
ALTER TABLE merges DROP COLUMN reason;
ALTER TABLE profiles DROP COLUMN identity_counts;
DROP TABLE identity_rules;
