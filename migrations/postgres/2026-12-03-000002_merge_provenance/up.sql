-- Where a row came from before merges moved it: set (once, to the profile it
-- first belonged to) when a merge moves the row to the survivor; NULL while
-- the row has never moved. What undoing a merge gives back.
ALTER TABLE identities ADD COLUMN origin_profile_id TEXT;
ALTER TABLE events ADD COLUMN origin_profile_id TEXT;
ALTER TABLE orders ADD COLUMN origin_profile_id TEXT;
ALTER TABLE loyalty_ledger ADD COLUMN origin_profile_id TEXT;
ALTER TABLE consents ADD COLUMN origin_profile_id TEXT;
ALTER TABLE preferences ADD COLUMN origin_profile_id TEXT;
ALTER TABLE feedback ADD COLUMN origin_profile_id TEXT;
ALTER TABLE cases ADD COLUMN origin_profile_id TEXT;
ALTER TABLE account_members ADD COLUMN origin_profile_id TEXT;
