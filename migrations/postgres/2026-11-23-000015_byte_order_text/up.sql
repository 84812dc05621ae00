-- Every text column compares in byte order (COLLATE "C"). Text here is ids,
-- identity values, dedupe keys, codes, hashes and JSON documents: nothing is
-- sorted for people to read, and in a database created with a linguistic
-- locale every B-tree comparison of such a key went through strcoll. perf of
-- batch ingestion on a C.UTF-8 database: ~8% of PostgreSQL's samples in
-- collation code (pg_newlocale_from_collation, lc_collate_is_c, strcoll,
-- varstr_cmp); the same binary against a database whose default collation is
-- "C": +5% events/s (10,138 -> 10,710 and 11,641 -> 12,238). Locales other
-- than C.UTF-8 (en_US.UTF-8, vi_VN.UTF-8) cost more per comparison.
-- All columns change at once so that no comparison mixes two collations (an
-- index is only usable under its own). Indexes on them are rebuilt.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT cols.table_name, cols.column_name
        FROM information_schema.columns cols
        JOIN information_schema.tables t ON t.table_schema = cols.table_schema AND t.table_name = cols.table_name
        WHERE cols.table_schema = current_schema()
          AND t.table_type = 'BASE TABLE'
          AND cols.data_type = 'text'
          AND cols.table_name NOT LIKE '\_\_diesel%'
        ORDER BY cols.table_name, cols.ordinal_position
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE text COLLATE "C"', c.table_name, c.column_name);
    END LOOP;
END
$$;
