-- Song plays per day of the week
SELECT t.weekday,
       CASE t.weekday
           WHEN 0 THEN 'Sunday' WHEN 1 THEN 'Monday' WHEN 2 THEN 'Tuesday'
           WHEN 3 THEN 'Wednesday' WHEN 4 THEN 'Thursday' WHEN 5 THEN 'Friday'
           ELSE 'Saturday'
       END AS day,
       COUNT(*) AS plays,
       COUNT(DISTINCT sp.user_id) AS listeners
FROM songplays sp
JOIN time t ON t.start_time = sp.start_time
GROUP BY t.weekday
ORDER BY t.weekday;
