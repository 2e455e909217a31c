LOCK songplays;

DELETE FROM songplays;

COPY songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent)
FROM 's3://sparkify-staging/dwh/runs/RUN_ID/songplays.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;

SELECT pg_last_copy_count();
