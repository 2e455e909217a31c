-- One row per user over all events with a userId. Name, gender and level come from the user's
-- latest event by (ts, itemInSession); level_at is that event's time.
INSERT INTO {stage} ({columns})
SELECT user_id, firstname, lastname, gender, level,
       TIMESTAMP 'epoch' + (ts / 1000) * INTERVAL '1 second'
           + (ts % 1000) * INTERVAL '1 millisecond' AS level_at
FROM (
    SELECT u.*,
           ROW_NUMBER() OVER (
               PARTITION BY u.user_id
               ORDER BY u.ts DESC, u.iteminsession DESC,
                        u.level, u.firstname, u.lastname, u.gender
           ) AS pick
    FROM (
        SELECT e.*,
               CAST(NULLIF(TRIM(e.userid), '') AS INTEGER) AS user_id
        FROM {staging_events} e
        WHERE NULLIF(TRIM(e.userid), '') IS NOT NULL
          AND OCTET_LENGTH(e.page) > 0
          AND e.ts BETWEEN 0 AND 253402300799999
          AND e.sessionid IS NOT NULL
          AND e.iteminsession IS NOT NULL
    ) u
) ranked
WHERE pick = 1;
