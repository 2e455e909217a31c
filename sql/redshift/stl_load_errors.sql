SELECT trim(filename), line_number, trim(colname), trim(type), err_code, trim(err_reason)
FROM stl_load_errors
WHERE query = pg_last_copy_id()
ORDER BY starttime DESC
LIMIT 5;
