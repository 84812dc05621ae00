-- Campaigns measured against a holdout: a segment's members when the
-- campaign was created, each assigned to treatment or control by a hash.
CREATE TABLE campaigns (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    segment_id    TEXT NOT NULL,
    holdout_bp    INTEGER NOT NULL,        -- share held out, in basis points (0–5000)
    goal_event    TEXT NOT NULL,
    window_days   INTEGER NOT NULL,
    starts_at     BIGINT NOT NULL,
    size          BIGINT NOT NULL,
    control_size  BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- profile_id is the member as snapshotted; results follow it to its survivor.
CREATE TABLE campaign_members (
    campaign_id  TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    grp          TEXT NOT NULL,            -- treatment | control
    PRIMARY KEY (campaign_id, profile_id)
);
