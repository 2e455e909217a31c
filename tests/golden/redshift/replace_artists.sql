LOCK artists;

DELETE FROM artists;

COPY artists (artist_id, name, location, latitude, longitude)
FROM 's3://sparkify-staging/dwh/runs/RUN_ID/artists.manifest'
IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-redshift'
FORMAT AS PARQUET
MANIFEST;

SELECT pg_last_copy_count();
