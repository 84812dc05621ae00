CREATE TABLE consent_state_old (
    profile_id   TEXT NOT NULL REFERENCES profiles(id),
    channel      TEXT NOT NULL,
    status       TEXT NOT NULL,
    recorded_at  BIGINT NOT NULL,
    consent_id   TEXT NOT NULL,
    PRIMARY KEY (profile_id, channel)
);
INSERT INTO consent_state_old SELECT profile_id, channel, status, recorded_at, consent_id FROM consent_state WHERE purpose = 'marketing';
DROP TABLE consent_state;
ALTER TABLE consent_state_old RENAME TO consent_state;
DELETE FROM consents WHERE purpose <> 'marketing';
ALTER TABLE consents DROP COLUMN evidence;
ALTER TABLE consents DROP COLUMN policy_version;
ALTER TABLE consents DROP COLUMN collected_by;
ALTER TABLE consents DROP COLUMN purpose;
ALTER TABLE segments DROP COLUMN refresh_every_minutes;
DROP TABLE job_runs;
DROP TABLE deliveries;
DROP TABLE destinations;
