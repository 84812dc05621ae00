DROP TABLE kept_apart;
ALTER TABLE merges DROP COLUMN detail;
ALTER TABLE merges DROP COLUMN undone_at;
