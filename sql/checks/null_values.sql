-- Rows where a column that must always hold a value is NULL.
SELECT COUNT(*) FROM {table} WHERE {column} IS NULL;
