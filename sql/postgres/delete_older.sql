DELETE FROM {table}
USING {stage}
WHERE {key_match}
  AND {name}.{version} <= {stage}.{version};
