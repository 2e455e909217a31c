LOCK artists;

DROP TABLE IF EXISTS stage_artists;

CREATE TEMP TABLE stage_artists (LIKE artists);

SELECT count(*) FROM stage_artists;

ANALYZE stage_artists;

DELETE FROM artists;

INSERT INTO artists (artist_id, name, location, latitude, longitude)
SELECT stage_artists.artist_id, stage_artists.name, stage_artists.location, stage_artists.latitude, stage_artists.longitude
FROM stage_artists;
