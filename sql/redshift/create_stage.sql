CREATE TEMP TABLE {stage} (LIKE {table});
