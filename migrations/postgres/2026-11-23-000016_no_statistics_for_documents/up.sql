-- JSON documents are stored, never filtered, joined or sorted by in SQL: the
-- planner has no use for statistics on them, and computing those (detoasting
-- and sorting a 30,000-row sample of each) was half of every ANALYZE of
-- events — which ingestion runs as tables grow (Db::after_commit). ANALYZE
-- now skips them.
ALTER TABLE events
    ALTER COLUMN identities SET STATISTICS 0,
    ALTER COLUMN traits SET STATISTICS 0,
    ALTER COLUMN properties SET STATISTICS 0,
    ALTER COLUMN context SET STATISTICS 0;
ALTER TABLE profiles
    ALTER COLUMN traits SET STATISTICS 0,
    ALTER COLUMN trait_times SET STATISTICS 0;
ALTER TABLE orders ALTER COLUMN products SET STATISTICS 0;
