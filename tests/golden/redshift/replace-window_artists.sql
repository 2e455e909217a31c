CREATE TEMP TABLE stage_artists (LIKE artists);

COPY stage_artists (artist_id, name, location, latitude, longitude)
FROM 's3://sparkify-staging/dwh/runs/RUN_ID/artists.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;

SELECT pg_last_copy_count();

LOCK artists;

DELETE FROM artists
USING stage_artists
WHERE artists.artist_id = stage_artists.artist_id;

INSERT INTO artists (artist_id, name, location, latitude, longitude)
SELECT stage_artists.artist_id, stage_artists.name, stage_artists.location, stage_artists.latitude, stage_artists.longitude
FROM stage_artists;

DROP TABLE stage_artists;
