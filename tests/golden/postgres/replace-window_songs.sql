LOCK TABLE songs IN SHARE ROW EXCLUSIVE MODE;

CREATE TEMP TABLE stage_songs (LIKE songs INCLUDING DEFAULTS) ON COMMIT DROP;

COPY stage_songs (song_id, title, artist_id, year, duration) FROM STDIN (FORMAT binary);

SELECT count(*) FROM stage_songs;

ANALYZE stage_songs;

DELETE FROM songs
USING stage_songs
WHERE songs.song_id = stage_songs.song_id;

INSERT INTO songs (song_id, title, artist_id, year, duration)
SELECT stage_songs.song_id, stage_songs.title, stage_songs.artist_id, stage_songs.year, stage_songs.duration
FROM stage_songs;
