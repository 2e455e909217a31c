-- Free vs paid listening: song plays by the level the user had when playing
SELECT sp.level, COUNT(*) AS plays, COUNT(DISTINCT sp.user_id) AS listeners,
       ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (), 1) AS pct_of_plays,
       ROUND(1.0 * COUNT(*) / COUNT(DISTINCT sp.user_id), 1) AS plays_per_listener
FROM songplays sp
GROUP BY sp.level
ORDER BY plays DESC, sp.level;
