CREATE TABLE IF NOT EXISTS {table} (
{column_defs},
    PRIMARY KEY ({key_columns})
);
