-- One row per artist_id, with the attributes of its smallest song_id (in byte order).
INSERT INTO {stage} ({columns})
SELECT artist_id, artist_name, artist_location, artist_latitude, artist_longitude
FROM (
    SELECT c.*,
           ROW_NUMBER() OVER (
               PARTITION BY c.artist_id
-- dialect: PostgreSQL orders text in byte order only under COLLATE "C"; Redshift always does
               ORDER BY c.song_id
           ) AS pick
    FROM {catalog} c
) ranked
WHERE pick = 1;
