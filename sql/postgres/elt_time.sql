-- One row per distinct start_time of the song plays, broken down in UTC; weekday 0 = Sunday.
INSERT INTO {stage} ({columns})
SELECT start_time,
       CAST(EXTRACT(hour FROM start_time) AS INTEGER),
       CAST(EXTRACT(day FROM start_time) AS INTEGER),
-- dialect: the ISO 8601 week is EXTRACT(week …) in PostgreSQL, DATE_PART(w, …) in Redshift
       CAST(EXTRACT(week FROM start_time) AS INTEGER),
       CAST(EXTRACT(month FROM start_time) AS INTEGER),
       CAST(EXTRACT(year FROM start_time) AS INTEGER),
       CAST(EXTRACT(dow FROM start_time) AS INTEGER)
FROM (SELECT DISTINCT start_time FROM {stage_songplays}) t;
