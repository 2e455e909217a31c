DELETE FROM {table}
WHERE {range_column} >= {since}
  AND {range_column} < {until};
