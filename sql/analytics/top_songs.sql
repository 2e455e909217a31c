-- Most played songs (song plays matched to the catalogue)
SELECT s.title, a.name AS artist, COUNT(*) AS plays, COUNT(DISTINCT sp.user_id) AS listeners
FROM songplays sp
JOIN songs s ON s.song_id = sp.song_id
LEFT JOIN artists a ON a.artist_id = s.artist_id
GROUP BY s.song_id, s.title, a.name
ORDER BY plays DESC, s.title, s.song_id
LIMIT 10;
