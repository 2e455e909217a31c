LOCK time;

DELETE FROM time;

COPY time (start_time, hour, day, week, month, year, weekday)
FROM 's3://sparkify-staging/dwh/runs/RUN_ID/time.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;

SELECT pg_last_copy_count();
