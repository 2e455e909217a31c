SET statement_timeout TO 7200000;
-- The columns of the star-schema tables that exist, in order, to compare with src/schema.rs before
-- anything changes. information_schema is served by PostgreSQL and Redshift alike.
SELECT table_name, column_name, data_type, character_maximum_length, column_default
FROM information_schema.columns
WHERE table_schema = current_schema()
  AND table_name IN ('users', 'songs', 'artists', 'time', 'songplays')
ORDER BY table_name, ordinal_position;
CREATE TEMP TABLE stage_users (LIKE users);
COPY stage_users (user_id, first_name, last_name, gender, level, level_at)
FROM 's3://staging/dwh/runs/run-day/users.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;
SELECT pg_last_copy_count();
CREATE TEMP TABLE stage_songs (LIKE songs);
COPY stage_songs (song_id, title, artist_id, year, duration)
FROM 's3://staging/dwh/runs/run-day/songs.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;
SELECT pg_last_copy_count();
CREATE TEMP TABLE stage_artists (LIKE artists);
COPY stage_artists (artist_id, name, location, latitude, longitude)
FROM 's3://staging/dwh/runs/run-day/artists.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;
SELECT pg_last_copy_count();
CREATE TEMP TABLE stage_time (LIKE time);
COPY stage_time (start_time, hour, day, week, month, year, weekday)
FROM 's3://staging/dwh/runs/run-day/time.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;
SELECT pg_last_copy_count();
CREATE TEMP TABLE stage_songplays (LIKE songplays);
COPY stage_songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent)
FROM 's3://staging/dwh/runs/run-day/songplays.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;
SELECT pg_last_copy_count();
BEGIN;
LOCK users;
LOCK songs;
LOCK artists;
LOCK time;
LOCK songplays;
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
DELETE FROM songs
USING stage_songs
WHERE songs.song_id = stage_songs.song_id;
INSERT INTO songs (song_id, title, artist_id, year, duration)
SELECT stage_songs.song_id, stage_songs.title, stage_songs.artist_id, stage_songs.year, stage_songs.duration
FROM stage_songs;
DELETE FROM artists
USING stage_artists
WHERE artists.artist_id = stage_artists.artist_id;
INSERT INTO artists (artist_id, name, location, latitude, longitude)
SELECT stage_artists.artist_id, stage_artists.name, stage_artists.location, stage_artists.latitude, stage_artists.longitude
FROM stage_artists;
DELETE FROM time
WHERE start_time >= TIMESTAMP '2018-11-15 00:00:00.000'
  AND start_time < TIMESTAMP '2018-11-16 00:00:00.000';
INSERT INTO time (start_time, hour, day, week, month, year, weekday)
SELECT stage_time.start_time, stage_time.hour, stage_time.day, stage_time.week, stage_time.month, stage_time.year, stage_time.weekday
FROM stage_time
WHERE stage_time.start_time >= TIMESTAMP '2018-11-15 00:00:00.000'
  AND stage_time.start_time < TIMESTAMP '2018-11-16 00:00:00.000';
DELETE FROM songplays
WHERE start_time >= TIMESTAMP '2018-11-15 00:00:00.000'
  AND start_time < TIMESTAMP '2018-11-16 00:00:00.000';
INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent)
SELECT stage_songplays.songplay_id, stage_songplays.start_time, stage_songplays.user_id, stage_songplays.level, stage_songplays.song_id, stage_songplays.artist_id, stage_songplays.session_id, stage_songplays.location, stage_songplays.user_agent
FROM stage_songplays
WHERE stage_songplays.start_time >= TIMESTAMP '2018-11-15 00:00:00.000'
  AND stage_songplays.start_time < TIMESTAMP '2018-11-16 00:00:00.000';
COMMIT;
DROP TABLE stage_users;
DROP TABLE stage_songs;
DROP TABLE stage_artists;
DROP TABLE stage_time;
DROP TABLE stage_songplays;
