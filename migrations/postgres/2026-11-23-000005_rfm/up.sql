-- Each profile's RFM scores from the latest RFM run.
CREATE TABLE profile_rfm (
    profile_id  TEXT PRIMARY KEY NOT NULL,
    r           INTEGER NOT NULL,
    f           INTEGER NOT NULL,
    m           INTEGER NOT NULL,
    segment     TEXT NOT NULL,
    as_of_day   BIGINT NOT NULL
);
CREATE INDEX profile_rfm_segment ON profile_rfm (segment);
