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
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE text COLLATE "default"', c.table_name, c.column_name);
    END LOOP;
END
$$;
