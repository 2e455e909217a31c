-- What the run staged and built, for the run summary.
SELECT
    (SELECT COUNT(*) FROM {staging_events}) AS events,
    (SELECT COUNT(*) FROM {staging_events} e
      WHERE e.page = 'NextSong'
        AND OCTET_LENGTH(e.page) = 8
        AND NULLIF(TRIM(e.userid), '') IS NOT NULL
        AND e.ts BETWEEN 0 AND 253402300799999
        AND e.sessionid IS NOT NULL
        AND e.iteminsession IS NOT NULL) AS song_plays,
    (SELECT COUNT(*) FROM {staging_songs}) AS song_records,
    (SELECT COUNT(*) FROM {catalog}) AS songs,
    (SELECT COUNT(*) FROM {stage_songplays} WHERE song_id IS NOT NULL) AS matched;
