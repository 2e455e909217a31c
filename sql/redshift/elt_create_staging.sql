-- A staging table for raw input records, shaped as Redshift's COPY … FORMAT AS JSON maps them.
-- Temporary: it lives as long as sparkify's connection and shadows a permanent table of that name.
CREATE TEMP TABLE {staging} (
{column_defs}
);
