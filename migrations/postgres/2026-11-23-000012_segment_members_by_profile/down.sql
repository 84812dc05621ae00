ALTER TABLE segment_members DROP CONSTRAINT segment_members_pkey;
ALTER TABLE segment_members ADD PRIMARY KEY (segment_id, entered_at, profile_id);
CREATE UNIQUE INDEX segment_members_current ON segment_members (segment_id, profile_id) WHERE exited_at IS NULL;
ALTER TABLE segment_members ADD CONSTRAINT segment_members_segment_id_fkey
    FOREIGN KEY (segment_id) REFERENCES segments(id) ON DELETE CASCADE;
