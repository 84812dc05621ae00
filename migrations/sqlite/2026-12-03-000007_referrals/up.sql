-- Referral codes: one per profile, stable (a survivor of merges answers the oldest of its profiles').
CREATE TABLE referral_codes (
    code        TEXT PRIMARY KEY NOT NULL,
    profile_id  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX referral_codes_profile ON referral_codes (profile_id);

-- A person who arrived with a referral code, and what came of it. Both ids
-- are the profiles at the time of linking; readers follow them to their survivors.
CREATE TABLE referrals (
    referee_id      TEXT PRIMARY KEY NOT NULL,
    referrer_id     TEXT NOT NULL,
    code            TEXT NOT NULL,
    linked_at       BIGINT NOT NULL,
    outcome         TEXT NOT NULL,          -- pending | rewarded | self_referral
    first_order_id  TEXT,
    first_order_at  BIGINT,
    points          BIGINT
);
CREATE INDEX referrals_referrer ON referrals (referrer_id);
