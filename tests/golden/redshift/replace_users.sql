LOCK users;

DELETE FROM users;

COPY users (user_id, first_name, last_name, gender, level, level_at)
FROM 's3://sparkify-staging/dwh/runs/RUN_ID/users.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;

SELECT pg_last_copy_count();
