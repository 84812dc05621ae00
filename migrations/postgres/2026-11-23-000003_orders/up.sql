-- Orders from commerce events, and the per-profile aggregates analytics read,
-- so that RFM, CLV and KPIs cost O(profiles), never a scan of events.
CREATE TABLE orders (
    order_id     TEXT PRIMARY KEY NOT NULL,   -- once per order_id
    profile_id   TEXT NOT NULL REFERENCES profiles(id),
    event_id     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    currency     TEXT NOT NULL,
    revenue      BIGINT NOT NULL,             -- minor units, as ordered
    refunded     BIGINT NOT NULL,             -- minor units refunded so far
    margin       BIGINT,                      -- minor units, when sent
    day          BIGINT NOT NULL,             -- UTC days since the epoch: one purchase occasion a day
    occurred_at  BIGINT NOT NULL,
    products     TEXT NOT NULL,               -- JSON array of line items
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX orders_profile ON orders (profile_id, day);

-- Purchase occasions: one row per profile and day with orders in it.
CREATE TABLE purchase_days (
    profile_id  TEXT NOT NULL REFERENCES profiles(id),
    day         BIGINT NOT NULL,
    orders      BIGINT NOT NULL,              -- orders of that day not fully refunded
    revenue     BIGINT NOT NULL,              -- net of refunds, minor units of the default currency
    PRIMARY KEY (profile_id, day)
);

ALTER TABLE profiles ADD COLUMN orders_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN revenue_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN margin_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN first_order_at BIGINT;
ALTER TABLE profiles ADD COLUMN last_order_at BIGINT;
