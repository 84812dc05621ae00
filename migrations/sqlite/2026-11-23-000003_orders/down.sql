ALTER TABLE profiles DROP COLUMN last_order_at;
ALTER TABLE profiles DROP COLUMN first_order_at;
ALTER TABLE profiles DROP COLUMN margin_total;
ALTER TABLE profiles DROP COLUMN revenue_total;
ALTER TABLE profiles DROP COLUMN orders_count;
DROP TABLE purchase_days;
DROP TABLE orders;
