ALTER TABLE events ADD CONSTRAINT events_profile_id_fkey FOREIGN KEY (profile_id) REFERENCES profiles(id);
ALTER TABLE identities ADD CONSTRAINT identities_profile_id_fkey FOREIGN KEY (profile_id) REFERENCES profiles(id);
ALTER TABLE orders ADD CONSTRAINT orders_profile_id_fkey FOREIGN KEY (profile_id) REFERENCES profiles(id);
ALTER TABLE purchase_days ADD CONSTRAINT purchase_days_profile_id_fkey FOREIGN KEY (profile_id) REFERENCES profiles(id);
ALTER TABLE loyalty_ledger ADD CONSTRAINT loyalty_ledger_profile_id_fkey FOREIGN KEY (profile_id) REFERENCES profiles(id);
ALTER TABLE loyalty_accounts ADD CONSTRAINT loyalty_accounts_profile_id_fkey FOREIGN KEY (profile_id) REFERENCES profiles(id);
ALTER TABLE consent_state ADD CONSTRAINT consent_state_profile_id_fkey FOREIGN KEY (profile_id) REFERENCES profiles(id);
