LOCK songs;

DELETE FROM songs;

COPY songs (song_id, title, artist_id, year, duration)
FROM 's3://sparkify-staging/dwh/runs/RUN_ID/songs.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;

SELECT pg_last_copy_count();
