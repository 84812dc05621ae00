-- Voucher campaigns and their single-use codes.
CREATE TABLE voucher_campaigns (
    id                 TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL,
    kind               TEXT NOT NULL,          -- amount | percent | points
    value              DOUBLE PRECISION NOT NULL,
    currency           TEXT,
    valid_from         BIGINT NOT NULL,
    valid_to           BIGINT NOT NULL,
    per_profile_limit  INTEGER NOT NULL,
    consent_channel    TEXT,                   -- with consent_purpose: issued only to people who granted it
    consent_purpose    TEXT,
    created_at         BIGINT NOT NULL
);

-- One row per code. profile_id is the profile it was issued to; after a merge
-- it belongs to the survivor (profiles.merged_into), so undoing the merge gives it back.
CREATE TABLE vouchers (
    code               TEXT PRIMARY KEY NOT NULL,
    campaign_id        TEXT NOT NULL,
    profile_id         TEXT NOT NULL,
    issued_at          BIGINT NOT NULL,
    redeemed_at        BIGINT,
    redeemed_order_id  TEXT
);
CREATE INDEX vouchers_profile ON vouchers (profile_id, issued_at);
CREATE INDEX vouchers_campaign ON vouchers (campaign_id, profile_id);
