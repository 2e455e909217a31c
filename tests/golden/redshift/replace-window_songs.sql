CREATE TEMP TABLE stage_songs (LIKE songs);

COPY stage_songs (song_id, title, artist_id, year, duration)
FROM 's3://sparkify-staging/dwh/runs/RUN_ID/songs.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;

SELECT pg_last_copy_count();

LOCK songs;

DELETE FROM songs
USING stage_songs
WHERE songs.song_id = stage_songs.song_id;

INSERT INTO songs (song_id, title, artist_id, year, duration)
SELECT stage_songs.song_id, stage_songs.title, stage_songs.artist_id, stage_songs.year, stage_songs.duration
FROM stage_songs;

DROP TABLE stage_songs;
