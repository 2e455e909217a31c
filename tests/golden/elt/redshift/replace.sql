SET statement_timeout TO 7200000;

-- A staging table for raw input records, shaped as Redshift's COPY … FORMAT AS JSON maps them.
-- Temporary: it lives as long as sparkify's connection and shadows a permanent table of that name.
CREATE TEMP TABLE staging_songs (
    num_songs INTEGER,
    artist_id VARCHAR(32),
    artist_latitude DOUBLE PRECISION,
    artist_longitude DOUBLE PRECISION,
    artist_location VARCHAR(512),
    artist_name VARCHAR(512),
    song_id VARCHAR(32),
    title VARCHAR(512),
    duration DOUBLE PRECISION,
    year INTEGER
);

-- A staging table for raw input records, shaped as Redshift's COPY … FORMAT AS JSON maps them.
-- Temporary: it lives as long as sparkify's connection and shadows a permanent table of that name.
CREATE TEMP TABLE staging_events (
    artist VARCHAR(65535),
    auth VARCHAR(32),
    firstname VARCHAR(256),
    gender VARCHAR(16),
    iteminsession INTEGER,
    lastname VARCHAR(256),
    length DOUBLE PRECISION,
    level VARCHAR(16),
    location VARCHAR(512),
    method VARCHAR(16),
    page VARCHAR(256),
    registration DOUBLE PRECISION,
    sessionid INTEGER,
    song VARCHAR(65535),
    status INTEGER,
    ts BIGINT,
    useragent VARCHAR(512),
    userid VARCHAR(256)
);

-- Events map onto the columns through the JSONPaths file (by position), songs through JSON 'auto'
-- (by key name). TRUNCATECOLUMNS cuts text to the column widths in bytes, as sparkify's own
-- transform does; MAXERROR is --max-bad-records.
COPY staging_songs
FROM 's3://udacity-dend/song_data/'
IAM_ROLE 'arn:aws:iam::123456789012:role/dwhRole'
FORMAT AS JSON 'auto'
REGION 'us-west-2'
TRUNCATECOLUMNS
MAXERROR 0
COMPUPDATE OFF
STATUPDATE OFF;

-- Events map onto the columns through the JSONPaths file (by position), songs through JSON 'auto'
-- (by key name). TRUNCATECOLUMNS cuts text to the column widths in bytes, as sparkify's own
-- transform does; MAXERROR is --max-bad-records.
COPY staging_events
FROM 's3://udacity-dend/log_data/'
IAM_ROLE 'arn:aws:iam::123456789012:role/dwhRole'
FORMAT AS JSON 's3://udacity-dend/log_json_path.json'
REGION 'us-west-2'
TRUNCATECOLUMNS
MAXERROR 0
COMPUPDATE OFF
STATUPDATE OFF;

ANALYZE staging_songs;

ANALYZE staging_events;

-- The song catalogue, one row per song_id; the songs and artists tables and the play -> song match
-- all read it. Records without a song_id or artist_id are dropped (sparkify's parser rejects them).
-- COPY keeps no input order, so where one song_id carries different attributes the row is chosen by
-- its values (sparkify's own transform keeps the first file in path order). Temporary, like the
-- staging tables.
CREATE TEMP TABLE elt_catalog AS
SELECT song_id, title, artist_id, year, duration,
       artist_name, artist_location, artist_latitude, artist_longitude
FROM (
    SELECT s.*,
           ROW_NUMBER() OVER (
               PARTITION BY s.song_id
               ORDER BY s.title, s.artist_id, s.year, s.duration, s.artist_name,
                        s.artist_location, s.artist_latitude, s.artist_longitude
           ) AS pick
    FROM staging_songs s
    WHERE OCTET_LENGTH(s.song_id) > 0
      AND OCTET_LENGTH(s.artist_id) > 0
) ranked
WHERE pick = 1;

ANALYZE elt_catalog;

BEGIN;

LOCK users, songs, artists, time, songplays;

CREATE TEMP TABLE stage_users (LIKE users);

CREATE TEMP TABLE stage_songs (LIKE songs);

CREATE TEMP TABLE stage_artists (LIKE artists);

CREATE TEMP TABLE stage_time (LIKE time);

CREATE TEMP TABLE stage_songplays (LIKE songplays);

-- One row per song_id, from the catalogue.
INSERT INTO stage_songs (song_id, title, artist_id, year, duration)
SELECT song_id, title, artist_id, year, duration
FROM elt_catalog;

-- One row per artist_id, with the attributes of its smallest song_id (in byte order).
INSERT INTO stage_artists (artist_id, name, location, latitude, longitude)
SELECT artist_id, artist_name, artist_location, artist_latitude, artist_longitude
FROM (
    SELECT c.*,
           ROW_NUMBER() OVER (
               PARTITION BY c.artist_id
-- dialect: PostgreSQL orders text in byte order only under COLLATE "C"; Redshift always does
               ORDER BY c.song_id
           ) AS pick
    FROM elt_catalog c
) ranked
WHERE pick = 1;

-- One row per NextSong event with a user (events missing a required field or with ts outside
-- 1970..9999 are skipped, as sparkify's parser rejects them).
-- songplay_id is the first 15 hex digits of md5('{ts}|{userId}|{sessionId}|{itemInSession}') as a
-- BIGINT: a function of the event alone, so exact duplicate events collapse onto one row.
-- A play matches the song with the same title and artist name and |duration - length| < 1e-6; of
-- several, the smallest song_id. Byte lengths are compared too, because Redshift ignores trailing
-- blanks when it compares VARCHARs and the titles of the real logs do end in blanks.
INSERT INTO stage_songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent)
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
            FROM staging_events e
            WHERE e.page = 'NextSong'
              AND OCTET_LENGTH(e.page) = 8
              AND NULLIF(TRIM(e.userid), '') IS NOT NULL
              AND e.ts BETWEEN 0 AND 253402300799999
              AND e.sessionid IS NOT NULL
              AND e.iteminsession IS NOT NULL
        ) k
    ) p
    LEFT JOIN elt_catalog c
      ON c.title = p.song
     AND c.artist_name = p.artist
     AND OCTET_LENGTH(c.title) = OCTET_LENGTH(p.song)
     AND OCTET_LENGTH(c.artist_name) = OCTET_LENGTH(p.artist)
     AND ABS(c.duration - p.length) < CAST(0.000001 AS DOUBLE PRECISION)
) ranked
WHERE pick = 1;

-- One row per user over all events with a userId. Name, gender and level come from the user's
-- latest event by (ts, itemInSession); level_at is that event's time.
INSERT INTO stage_users (user_id, first_name, last_name, gender, level, level_at)
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
        FROM staging_events e
        WHERE NULLIF(TRIM(e.userid), '') IS NOT NULL
          AND OCTET_LENGTH(e.page) > 0
          AND e.ts BETWEEN 0 AND 253402300799999
          AND e.sessionid IS NOT NULL
          AND e.iteminsession IS NOT NULL
    ) u
) ranked
WHERE pick = 1;

-- One row per distinct start_time of the song plays, broken down in UTC; weekday 0 = Sunday.
INSERT INTO stage_time (start_time, hour, day, week, month, year, weekday)
SELECT start_time,
       CAST(EXTRACT(hour FROM start_time) AS INTEGER),
       CAST(EXTRACT(day FROM start_time) AS INTEGER),
-- dialect: the ISO 8601 week is EXTRACT(week …) in PostgreSQL, DATE_PART(w, …) in Redshift
       CAST(DATE_PART(w, start_time) AS INTEGER),
       CAST(EXTRACT(month FROM start_time) AS INTEGER),
       CAST(EXTRACT(year FROM start_time) AS INTEGER),
       CAST(EXTRACT(dow FROM start_time) AS INTEGER)
FROM (SELECT DISTINCT start_time FROM stage_songplays) t;

ANALYZE stage_users;

ANALYZE stage_songs;

ANALYZE stage_artists;

ANALYZE stage_time;

ANALYZE stage_songplays;

-- What the run staged and built, for the run summary.
SELECT
    (SELECT COUNT(*) FROM staging_events) AS events,
    (SELECT COUNT(*) FROM staging_events e
      WHERE e.page = 'NextSong'
        AND OCTET_LENGTH(e.page) = 8
        AND NULLIF(TRIM(e.userid), '') IS NOT NULL
        AND e.ts BETWEEN 0 AND 253402300799999
        AND e.sessionid IS NOT NULL
        AND e.iteminsession IS NOT NULL) AS song_plays,
    (SELECT COUNT(*) FROM staging_songs) AS song_records,
    (SELECT COUNT(*) FROM elt_catalog) AS songs,
    (SELECT COUNT(*) FROM stage_songplays WHERE song_id IS NOT NULL) AS matched;

DELETE FROM users;

INSERT INTO users (user_id, first_name, last_name, gender, level, level_at)
SELECT stage_users.user_id, stage_users.first_name, stage_users.last_name, stage_users.gender, stage_users.level, stage_users.level_at
FROM stage_users;

DELETE FROM songs;

INSERT INTO songs (song_id, title, artist_id, year, duration)
SELECT stage_songs.song_id, stage_songs.title, stage_songs.artist_id, stage_songs.year, stage_songs.duration
FROM stage_songs;

DELETE FROM artists;

INSERT INTO artists (artist_id, name, location, latitude, longitude)
SELECT stage_artists.artist_id, stage_artists.name, stage_artists.location, stage_artists.latitude, stage_artists.longitude
FROM stage_artists;

DELETE FROM time;

INSERT INTO time (start_time, hour, day, week, month, year, weekday)
SELECT stage_time.start_time, stage_time.hour, stage_time.day, stage_time.week, stage_time.month, stage_time.year, stage_time.weekday
FROM stage_time;

DELETE FROM songplays;

INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent)
SELECT stage_songplays.songplay_id, stage_songplays.start_time, stage_songplays.user_id, stage_songplays.level, stage_songplays.song_id, stage_songplays.artist_id, stage_songplays.session_id, stage_songplays.location, stage_songplays.user_agent
FROM stage_songplays;

COMMIT;
