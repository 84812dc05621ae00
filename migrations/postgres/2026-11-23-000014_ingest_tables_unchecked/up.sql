-- The tables ingestion writes on every batch no longer check their profile by
-- foreign key: 3.35 checks per event (`SELECT … FOR KEY SHARE` on profiles),
-- 2.8 s of PostgreSQL's ~20 s of statement time for 100k events. Every such
-- row is written by a transaction that holds the profile's row lock, profiles
-- are never deleted (erasure anonymises them in place), and the end-to-end
-- suite checks that no row names a missing profile. Tables written rarely
-- (preferences, consents' history, account members, feedback, cases) keep
-- theirs. SQLite keeps its checks: they are in-process index probes there.
ALTER TABLE events DROP CONSTRAINT events_profile_id_fkey;
ALTER TABLE identities DROP CONSTRAINT identities_profile_id_fkey;
ALTER TABLE orders DROP CONSTRAINT orders_profile_id_fkey;
ALTER TABLE purchase_days DROP CONSTRAINT purchase_days_profile_id_fkey;
ALTER TABLE loyalty_ledger DROP CONSTRAINT loyalty_ledger_profile_id_fkey;
ALTER TABLE loyalty_accounts DROP CONSTRAINT loyalty_accounts_profile_id_fkey;
ALTER TABLE consent_state DROP CONSTRAINT consent_state_profile_id_fkey;
