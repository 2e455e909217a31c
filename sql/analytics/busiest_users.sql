-- Busiest users: most song plays, with their sessions and current level
SELECT u.user_id, u.first_name, u.last_name, u.level, COUNT(*) AS plays,
       COUNT(DISTINCT sp.session_id) AS sessions
FROM songplays sp
JOIN users u ON u.user_id = sp.user_id
GROUP BY u.user_id, u.first_name, u.last_name, u.level
ORDER BY plays DESC, u.user_id
LIMIT 10;
