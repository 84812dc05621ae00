-- The loyalty programme: its configuration, each member's account (a cached
-- balance that always equals the sum of the ledger), the append-only ledger
-- and the rewards catalogue.
CREATE TABLE loyalty_program (
    id          INTEGER PRIMARY KEY NOT NULL,  -- always 1
    body        TEXT NOT NULL,                 -- JSON, as PUT /api/v1/loyalty/program takes it
    updated_at  BIGINT NOT NULL
);

CREATE TABLE loyalty_accounts (
    profile_id  TEXT PRIMARY KEY NOT NULL REFERENCES profiles(id),
    balance     BIGINT NOT NULL,
    tier_code   TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE loyalty_ledger (
    id               TEXT PRIMARY KEY NOT NULL,
    profile_id       TEXT NOT NULL REFERENCES profiles(id),
    kind             TEXT NOT NULL,             -- earn | redeem | expire | reverse | adjust
    points           BIGINT NOT NULL,           -- signed
    balance_after    BIGINT NOT NULL,
    order_id         TEXT,
    reward_id        TEXT,
    idempotency_key  TEXT,
    reason           TEXT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT,                    -- earn and positive adjust: when the points lapse
    remaining        BIGINT NOT NULL            -- earn and positive adjust: points not yet spent or expired
);
CREATE INDEX loyalty_ledger_profile ON loyalty_ledger (profile_id, created_at, id);
CREATE UNIQUE INDEX loyalty_ledger_one_earn ON loyalty_ledger (order_id) WHERE kind = 'earn';
CREATE UNIQUE INDEX loyalty_ledger_idempotency ON loyalty_ledger (profile_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX loyalty_ledger_lots ON loyalty_ledger (expires_at) WHERE remaining > 0;

CREATE TABLE loyalty_rewards (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    points_cost  BIGINT NOT NULL,
    stock        BIGINT,                        -- null: unlimited
    active_from  BIGINT,
    active_to    BIGINT,
    created_at   BIGINT NOT NULL
);
