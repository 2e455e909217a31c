-- Where the listening happens: song plays by the user's location
SELECT sp.location, COUNT(*) AS plays, COUNT(DISTINCT sp.user_id) AS listeners
FROM songplays sp
GROUP BY sp.location
ORDER BY plays DESC, sp.location
LIMIT 10;
