-- Purchase days stored in their key's order (WITHOUT ROWID): RFM and CLV read
-- them per profile in (profile_id, day) order and ingestion upserts by that key,
-- so one B-tree serves both instead of a rowid table plus its key index (every
-- row read through the index was a second lookup into the table).
CREATE TABLE purchase_days_by_key (
    profile_id  TEXT NOT NULL REFERENCES profiles(id),
    day         BIGINT NOT NULL,
    orders      BIGINT NOT NULL,              -- orders of that day not fully refunded
    revenue     BIGINT NOT NULL,              -- net of refunds, minor units of the default currency
    PRIMARY KEY (profile_id, day)
) WITHOUT ROWID;
INSERT INTO purchase_days_by_key (profile_id, day, orders, revenue) SELECT profile_id, day, orders, revenue FROM purchase_days;
DROP TABLE purchase_days;
ALTER TABLE purchase_days_by_key RENAME TO purchase_days;
