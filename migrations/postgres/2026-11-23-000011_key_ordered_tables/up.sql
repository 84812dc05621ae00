-- SQLite stores purchase_days, profile_scores and profile_rfm in key order from
-- this version (WITHOUT ROWID);
-- PostgreSQL's heap has no such option and its key index already serves the
-- per-profile reads, so nothing changes here: the version keeps both backends'
-- migration lists identical.
SELECT 1;
