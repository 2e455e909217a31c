LOCK TABLE artists IN SHARE ROW EXCLUSIVE MODE;

CREATE TEMP TABLE stage_artists (LIKE artists INCLUDING DEFAULTS) ON COMMIT DROP;

COPY stage_artists (artist_id, name, location, latitude, longitude) FROM STDIN (FORMAT binary);

SELECT count(*) FROM stage_artists;

ANALYZE stage_artists;

DELETE FROM artists
USING stage_artists
WHERE artists.artist_id = stage_artists.artist_id;

INSERT INTO artists (artist_id, name, location, latitude, longitude)
SELECT stage_artists.artist_id, stage_artists.name, stage_artists.location, stage_artists.latitude, stage_artists.longitude
FROM stage_artists;
