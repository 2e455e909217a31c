DELETE FROM {table}
USING {stage}
WHERE {key_match}
  AND {table}.{version} <= {stage}.{version};
