INSERT INTO {table} ({columns})
SELECT {stage_columns}
FROM {stage}
WHERE {stage}.{range_column} >= {since}
  AND {stage}.{range_column} < {until};
