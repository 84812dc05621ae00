CREATE TABLE purchase_days_rowid (
    profile_id  TEXT NOT NULL REFERENCES profiles(id),
    day         BIGINT NOT NULL,
    orders      BIGINT NOT NULL,
    revenue     BIGINT NOT NULL,
    PRIMARY KEY (profile_id, day)
);
INSERT INTO purchase_days_rowid (profile_id, day, orders, revenue) SELECT profile_id, day, orders, revenue FROM purchase_days;
DROP TABLE purchase_days;
ALTER TABLE purchase_days_rowid RENAME TO purchase_days;
