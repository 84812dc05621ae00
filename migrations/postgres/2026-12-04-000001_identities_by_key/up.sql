-- SQLite stores identities in key order from this version (WITHOUT ROWID);
-- PostgreSQL's heap has no such option and its key index already serves
-- resolution, so nothing changes here: the version keeps both backends'
-- migration lists identical.
SELECT 1;
