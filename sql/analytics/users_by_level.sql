-- Users by current level and gender
SELECT u.level, u.gender, COUNT(*) AS users
FROM users u
GROUP BY u.level, u.gender
ORDER BY u.level, u.gender;
