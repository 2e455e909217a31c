-- One row per NextSong event with a user (events missing a required field or with ts outside
-- 1970..9999 are skipped, as sparkify's parser rejects them).
-- songplay_id is the first 15 hex digits of md5('{ts}|{userId}|{sessionId}|{itemInSession}') as a
-- BIGINT: a function of the event alone, so exact duplicate events collapse onto one row.
-- A play matches the song with the same title and artist name and |duration - length| < 1e-6; of
-- several, the smallest song_id. Byte lengths are compared too, because Redshift ignores trailing
-- blanks when it compares VARCHARs and the titles of the real logs do end in blanks.
INSERT INTO {stage} ({columns})
SELECT songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent
FROM (
    SELECT p.songplay_id,
           p.start_time,
           p.user_id,
           p.level,
           c.song_id,
           c.artist_id,
           p.sessionid AS session_id,
           p.location,
           p.useragent AS user_agent,
           ROW_NUMBER() OVER (
               PARTITION BY p.songplay_id
               ORDER BY p.level, p.location, p.useragent, p.song, p.artist, p.length,
-- dialect: PostgreSQL orders text in byte order only under COLLATE "C"; Redshift always does
                        c.song_id
           ) AS pick
    FROM (
        SELECT k.*,
-- dialect: PostgreSQL reads 15 hex digits through BIT(64); Redshift has STRTOL
               STRTOL(LEFT(MD5(k.play_key), 15), 16) AS songplay_id
        FROM (
            SELECT e.*,
                   CAST(NULLIF(TRIM(e.userid), '') AS INTEGER) AS user_id,
                   CAST(e.ts AS VARCHAR) || '|'
                       || CAST(CAST(NULLIF(TRIM(e.userid), '') AS INTEGER) AS VARCHAR) || '|'
                       || CAST(e.sessionid AS VARCHAR) || '|'
                       || CAST(e.iteminsession AS VARCHAR) AS play_key,
                   TIMESTAMP 'epoch' + (e.ts / 1000) * INTERVAL '1 second'
                       + (e.ts % 1000) * INTERVAL '1 millisecond' AS start_time
            FROM {staging_events} e
            WHERE e.page = 'NextSong'
              AND OCTET_LENGTH(e.page) = 8
              AND NULLIF(TRIM(e.userid), '') IS NOT NULL
              AND e.ts BETWEEN 0 AND 253402300799999
              AND e.sessionid IS NOT NULL
              AND e.iteminsession IS NOT NULL
        ) k
    ) p
    LEFT JOIN {catalog} c
      ON c.title = p.song
     AND c.artist_name = p.artist
     AND OCTET_LENGTH(c.title) = OCTET_LENGTH(p.song)
     AND OCTET_LENGTH(c.artist_name) = OCTET_LENGTH(p.artist)
     AND ABS(c.duration - p.length) < CAST(0.000001 AS DOUBLE PRECISION)
) ranked
WHERE pick = 1;
