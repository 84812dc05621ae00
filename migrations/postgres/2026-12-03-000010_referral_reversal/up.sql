-- The ledger entry that credited a referral's reward, taken back if the first order is refunded in full.
ALTER TABLE referrals ADD COLUMN reward_entry_id TEXT;
