-- Rows in the table.
SELECT COUNT(*) FROM {table};
