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

CREATE TABLE profile_scores_rowid (
    profile_id            TEXT PRIMARY KEY NOT NULL,
    model_id              TEXT NOT NULL,
    p_alive               REAL NOT NULL,
    expected_purchases    REAL NOT NULL,
    expected_order_value  REAL NOT NULL,
    clv                   REAL NOT NULL
);
INSERT INTO profile_scores_rowid SELECT profile_id, model_id, p_alive, expected_purchases, expected_order_value, clv FROM profile_scores;
DROP TABLE profile_scores;
ALTER TABLE profile_scores_rowid RENAME TO profile_scores;

CREATE TABLE profile_rfm_rowid (
    profile_id  TEXT PRIMARY KEY NOT NULL,
    r           INTEGER NOT NULL,
    f           INTEGER NOT NULL,
    m           INTEGER NOT NULL,
    segment     TEXT NOT NULL,
    as_of_day   BIGINT NOT NULL
);
INSERT INTO profile_rfm_rowid SELECT profile_id, r, f, m, segment, as_of_day FROM profile_rfm;
DROP TABLE profile_rfm;
ALTER TABLE profile_rfm_rowid RENAME TO profile_rfm;
CREATE INDEX profile_rfm_segment ON profile_rfm (segment);
