-- Rows whose reference (when not NULL) is missing from the table it refers to.
SELECT COUNT(*) FROM {table} child
WHERE child.{column} IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM {parent} parent
      WHERE parent.{parent_column} = child.{column}
  );
