-- Song plays per hour of the day (UTC)
SELECT t.hour, COUNT(*) AS plays,
       ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (), 1) AS pct_of_plays
FROM songplays sp
JOIN time t ON t.start_time = sp.start_time
GROUP BY t.hour
ORDER BY t.hour;
