-- The columns of the star-schema tables that exist, in order, to compare with src/schema.rs before
-- anything changes. information_schema is served by PostgreSQL and Redshift alike.
SELECT table_name, column_name, data_type, character_maximum_length, column_default
FROM information_schema.columns
WHERE table_schema = {schema}
  AND table_name IN ({tables})
ORDER BY table_name, ordinal_position;
