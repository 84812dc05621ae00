-- Each customer's purchase occasions summarised, kept by ingestion next to
-- purchase_days (the rows of the profiles a batch touched are recomputed from
-- their purchase days in the same transaction). RFM and CLV read one row per
-- customer instead of aggregating every purchase day: at 1M customers and
-- 9.35M purchase days that read was 6.5–8 s on PostgreSQL.
CREATE TABLE purchase_summaries (
    profile_id         TEXT PRIMARY KEY NOT NULL,
    days               BIGINT NOT NULL,    -- days with an order not fully refunded
    first_day          BIGINT NOT NULL,
    last_day           BIGINT NOT NULL,
    revenue            BIGINT NOT NULL,    -- net revenue of those days, minor units
    first_day_revenue  BIGINT NOT NULL
);
INSERT INTO purchase_summaries (profile_id, days, first_day, last_day, revenue, first_day_revenue)
SELECT d.profile_id, COUNT(*), MIN(d.day), MAX(d.day), SUM(d.revenue),
       (SELECT f.revenue FROM purchase_days f WHERE f.profile_id = d.profile_id AND f.orders > 0 ORDER BY f.day LIMIT 1)
FROM purchase_days d WHERE d.orders > 0 GROUP BY d.profile_id;
