CREATE TEMP TABLE stage_users (LIKE users);

COPY stage_users (user_id, first_name, last_name, gender, level, level_at)
FROM 's3://sparkify-staging/dwh/runs/RUN_ID/users.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;

SELECT pg_last_copy_count();

LOCK users;

DELETE FROM users
USING stage_users
WHERE users.user_id = stage_users.user_id
  AND users.level_at <= stage_users.level_at;

INSERT INTO users (user_id, first_name, last_name, gender, level, level_at)
SELECT stage_users.user_id, stage_users.first_name, stage_users.last_name, stage_users.gender, stage_users.level, stage_users.level_at
FROM stage_users
WHERE NOT EXISTS (
    SELECT 1 FROM users
    WHERE users.user_id = stage_users.user_id
);

DROP TABLE stage_users;
