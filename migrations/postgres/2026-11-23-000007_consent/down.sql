DROP TABLE preferences;
DROP TABLE consent_state;
DROP TABLE consents;
