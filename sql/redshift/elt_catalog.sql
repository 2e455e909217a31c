-- The song catalogue, one row per song_id; the songs and artists tables and the play -> song match
-- all read it. Records without a song_id or artist_id are dropped (sparkify's parser rejects them).
-- COPY keeps no input order, so where one song_id carries different attributes the row is chosen by
-- its values (sparkify's own transform keeps the first file in path order). Temporary, like the
-- staging tables.
CREATE TEMP TABLE {catalog} AS
SELECT song_id, title, artist_id, year, duration,
       artist_name, artist_location, artist_latitude, artist_longitude
FROM (
    SELECT s.*,
           ROW_NUMBER() OVER (
               PARTITION BY s.song_id
               ORDER BY s.title, s.artist_id, s.year, s.duration, s.artist_name,
                        s.artist_location, s.artist_latitude, s.artist_longitude
           ) AS pick
    FROM {staging_songs} s
    WHERE OCTET_LENGTH(s.song_id) > 0
      AND OCTET_LENGTH(s.artist_id) > 0
) ranked
WHERE pick = 1;
