-- The run's headline: song plays, those matched to the catalogue, listeners and the period covered
SELECT COUNT(*) AS songplays, COUNT(sp.song_id) AS matched_plays,
       COUNT(DISTINCT sp.user_id) AS listeners,
       MIN(sp.start_time) AS first_play, MAX(sp.start_time) AS last_play
FROM songplays sp;
