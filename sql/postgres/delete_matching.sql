DELETE FROM {table}
USING {stage}
WHERE {key_match};
