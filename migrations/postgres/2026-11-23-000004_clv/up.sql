-- Fitted customer-value models and each profile's latest scores.
CREATE TABLE clv_models (
    id          TEXT PRIMARY KEY NOT NULL,
    created_at  BIGINT NOT NULL,
    body        TEXT NOT NULL                 -- the fit as answered by POST /analytics/clv/fit, with its settings
);

CREATE TABLE profile_scores (
    profile_id            TEXT PRIMARY KEY NOT NULL,
    model_id              TEXT NOT NULL,
    p_alive               DOUBLE PRECISION NOT NULL,
    expected_purchases    DOUBLE PRECISION NOT NULL,
    expected_order_value  DOUBLE PRECISION NOT NULL,     -- major units
    clv                   DOUBLE PRECISION NOT NULL      -- major units
);
