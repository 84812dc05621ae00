-- Undoing the SQLite-only change of this version: nothing to do on PostgreSQL.
SELECT 1;
