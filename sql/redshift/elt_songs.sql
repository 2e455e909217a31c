-- One row per song_id, from the catalogue.
INSERT INTO {stage} ({columns})
SELECT song_id, title, artist_id, year, duration
FROM {catalog};
