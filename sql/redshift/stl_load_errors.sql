SELECT trim(filename), line_number, trim(colname), trim(type), err_code, trim(err_reason)
FROM stl_load_errors
WHERE session = pg_backend_pid()
ORDER BY starttime DESC
LIMIT 5;
