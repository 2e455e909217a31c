-- Parquet COPY reads through Redshift Spectrum, which logs its errors here rather than in
-- stl_load_errors: file, line, column and type are not known, only the message.
SELECT 's3', 0, '', '', 0, trim(message)
FROM svl_s3log
WHERE pid = pg_backend_pid()
ORDER BY eventtime DESC
LIMIT 5;
