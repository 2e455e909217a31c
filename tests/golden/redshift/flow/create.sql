SET statement_timeout TO 7200000;
-- The columns of the star-schema tables that exist, in order, to compare with src/schema.rs before
-- anything changes. information_schema is served by PostgreSQL and Redshift alike.
SELECT table_name, column_name, data_type, character_maximum_length, column_default
FROM information_schema.columns
WHERE table_schema = current_schema()
  AND table_name IN ('users', 'songs', 'artists', 'time', 'songplays')
ORDER BY table_name, ordinal_position;
BEGIN;
CREATE TABLE IF NOT EXISTS users (
    user_id INTEGER NOT NULL,
    first_name VARCHAR(256),
    last_name VARCHAR(256),
    gender VARCHAR(16),
    level VARCHAR(16),
    level_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id)
)
DISTSTYLE ALL;
CREATE TABLE IF NOT EXISTS songs (
    song_id VARCHAR(32) NOT NULL,
    title VARCHAR(512),
    artist_id VARCHAR(32),
    year INTEGER,
    duration DOUBLE PRECISION,
    PRIMARY KEY (song_id)
)
DISTSTYLE ALL;
CREATE TABLE IF NOT EXISTS artists (
    artist_id VARCHAR(32) NOT NULL,
    name VARCHAR(512),
    location VARCHAR(512),
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    PRIMARY KEY (artist_id)
)
DISTSTYLE ALL;
CREATE TABLE IF NOT EXISTS time (
    start_time TIMESTAMP NOT NULL,
    hour INTEGER NOT NULL,
    day INTEGER NOT NULL,
    week INTEGER NOT NULL,
    month INTEGER NOT NULL,
    year INTEGER NOT NULL,
    weekday INTEGER NOT NULL,
    PRIMARY KEY (start_time)
)
DISTSTYLE KEY DISTKEY (start_time) SORTKEY (start_time);
CREATE TABLE IF NOT EXISTS songplays (
    songplay_id BIGINT NOT NULL,
    start_time TIMESTAMP NOT NULL,
    user_id INTEGER NOT NULL,
    level VARCHAR(16),
    song_id VARCHAR(32),
    artist_id VARCHAR(32),
    session_id INTEGER NOT NULL,
    location VARCHAR(512),
    user_agent VARCHAR(512),
    PRIMARY KEY (songplay_id)
)
DISTSTYLE KEY DISTKEY (start_time) SORTKEY (start_time);
COMMIT;
