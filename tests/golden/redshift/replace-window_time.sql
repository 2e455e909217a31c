CREATE TEMP TABLE stage_time (LIKE time);

COPY stage_time (start_time, hour, day, week, month, year, weekday)
FROM 's3://sparkify-staging/dwh/runs/RUN_ID/time.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;

SELECT pg_last_copy_count();

LOCK time;

DELETE FROM time
WHERE start_time >= TIMESTAMP '2018-11-05 00:00:00.000'
  AND start_time < TIMESTAMP '2018-11-06 00:00:00.000';

INSERT INTO time (start_time, hour, day, week, month, year, weekday)
SELECT stage_time.start_time, stage_time.hour, stage_time.day, stage_time.week, stage_time.month, stage_time.year, stage_time.weekday
FROM stage_time
WHERE stage_time.start_time >= TIMESTAMP '2018-11-05 00:00:00.000'
  AND stage_time.start_time < TIMESTAMP '2018-11-06 00:00:00.000';

DROP TABLE stage_time;
