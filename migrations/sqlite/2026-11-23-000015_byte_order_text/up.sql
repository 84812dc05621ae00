-- PostgreSQL makes every text column compare in byte order in this version
-- (COLLATE "C"). SQLite's default collation, BINARY, already does: nothing to
-- do; the version keeps both migration lists identical.
SELECT 1;
