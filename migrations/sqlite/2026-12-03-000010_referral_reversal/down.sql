ALTER TABLE referrals DROP COLUMN reward_entry_id;
