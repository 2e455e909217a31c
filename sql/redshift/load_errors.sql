SELECT trim(file_name), line_number, trim(column_name), trim(column_type), error_code, trim(error_message)
FROM sys_load_error_detail
WHERE session_id = pg_backend_pid()
ORDER BY start_time DESC
LIMIT 5;
