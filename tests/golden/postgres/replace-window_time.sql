LOCK TABLE time IN SHARE ROW EXCLUSIVE MODE;

CREATE TEMP TABLE stage_time (LIKE time INCLUDING DEFAULTS) ON COMMIT DROP;

COPY stage_time (start_time, hour, day, week, month, year, weekday) FROM STDIN (FORMAT binary);

SELECT count(*) FROM stage_time;

ANALYZE stage_time;

DELETE FROM time
WHERE start_time >= TIMESTAMP '2018-11-05 00:00:00.000'
  AND start_time < TIMESTAMP '2018-11-06 00:00:00.000';

INSERT INTO time (start_time, hour, day, week, month, year, weekday)
SELECT stage_time.start_time, stage_time.hour, stage_time.day, stage_time.week, stage_time.month, stage_time.year, stage_time.weekday
FROM stage_time
WHERE stage_time.start_time >= TIMESTAMP '2018-11-05 00:00:00.000'
  AND stage_time.start_time < TIMESTAMP '2018-11-06 00:00:00.000';
