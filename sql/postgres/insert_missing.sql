INSERT INTO {table} ({columns})
SELECT {stage_columns}
FROM {stage}
WHERE NOT EXISTS (
    SELECT 1 FROM {table}
    WHERE {key_match}
);
