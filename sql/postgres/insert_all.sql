INSERT INTO {table} ({columns})
SELECT {stage_columns}
FROM {stage};
