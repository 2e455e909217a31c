-- Key values held by more than one row.
SELECT COUNT(*) FROM (
    SELECT {key_columns}
    FROM {table}
    GROUP BY {key_columns}
    HAVING COUNT(*) > 1
) duplicated;
