-- Accounts (Segment `group`): the companies or households people belong to.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY NOT NULL,   -- the group id the client sends
    traits      TEXT NOT NULL,               -- JSON object, later values win per key
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE account_members (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    profile_id  TEXT NOT NULL REFERENCES profiles(id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, profile_id)
);
CREATE INDEX account_members_profile ON account_members (profile_id);
