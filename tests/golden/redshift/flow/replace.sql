SET statement_timeout TO 7200000;
-- The columns of the star-schema tables that exist, in order, to compare with src/schema.rs before
-- anything changes. information_schema is served by PostgreSQL and Redshift alike.
SELECT table_name, column_name, data_type, character_maximum_length, column_default
FROM information_schema.columns
WHERE table_schema = current_schema()
  AND table_name IN ('users', 'songs', 'artists', 'time', 'songplays')
ORDER BY table_name, ordinal_position;
BEGIN;
LOCK users;
LOCK songs;
LOCK artists;
LOCK time;
LOCK songplays;
DELETE FROM users;
COPY users (user_id, first_name, last_name, gender, level, level_at)
FROM 's3://staging/dwh/runs/run-1/users.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;
SELECT pg_last_copy_count();
DELETE FROM songs;
COPY songs (song_id, title, artist_id, year, duration)
FROM 's3://staging/dwh/runs/run-1/songs.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;
SELECT pg_last_copy_count();
DELETE FROM artists;
COPY artists (artist_id, name, location, latitude, longitude)
FROM 's3://staging/dwh/runs/run-1/artists.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;
SELECT pg_last_copy_count();
DELETE FROM time;
COPY time (start_time, hour, day, week, month, year, weekday)
FROM 's3://staging/dwh/runs/run-1/time.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;
SELECT pg_last_copy_count();
DELETE FROM songplays;
COPY songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent)
FROM 's3://staging/dwh/runs/run-1/songplays.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;
SELECT pg_last_copy_count();
COMMIT;
