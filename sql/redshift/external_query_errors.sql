-- Spectrum scan errors, which a Parquet COPY also logs here (the SYS view that Serverless has).
-- The view has no session column: this session's queries come from sys_query_history.
SELECT trim(e.file_location), 0, trim(e.column_name), '', e.error_code,
       trim(e.action) || ' ' || trim(e.original_value)
FROM sys_external_query_error e
JOIN sys_query_history q ON q.query_id = e.query_id
WHERE q.session_id = pg_backend_pid()
ORDER BY e.query_id DESC
LIMIT 5;
