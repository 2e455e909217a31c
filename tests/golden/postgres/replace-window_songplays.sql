LOCK TABLE songplays IN SHARE ROW EXCLUSIVE MODE;

CREATE TEMP TABLE stage_songplays (LIKE songplays INCLUDING DEFAULTS) ON COMMIT DROP;

COPY stage_songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent) FROM STDIN (FORMAT binary);

SELECT count(*) FROM stage_songplays;

ANALYZE stage_songplays;

DELETE FROM songplays
WHERE start_time >= TIMESTAMP '2018-11-05 00:00:00.000'
  AND start_time < TIMESTAMP '2018-11-06 00:00:00.000';

INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, user_agent)
SELECT stage_songplays.songplay_id, stage_songplays.start_time, stage_songplays.user_id, stage_songplays.level, stage_songplays.song_id, stage_songplays.artist_id, stage_songplays.session_id, stage_songplays.location, stage_songplays.user_agent
FROM stage_songplays
WHERE stage_songplays.start_time >= TIMESTAMP '2018-11-05 00:00:00.000'
  AND stage_songplays.start_time < TIMESTAMP '2018-11-06 00:00:00.000';
