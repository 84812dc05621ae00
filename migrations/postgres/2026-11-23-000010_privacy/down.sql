DROP TABLE audit_log;
DROP TABLE erased_identities;
DROP TABLE erased_profiles;
