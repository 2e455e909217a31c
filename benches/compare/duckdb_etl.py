#!/usr/bin/env python3
"""The sparkify star schema built with DuckDB (Python `duckdb`), for the comparison benchmark.

Usage: duckdb_etl.py INPUT_DIR OUTPUT_DIR

Reads INPUT_DIR/song_data/**/*.json and INPUT_DIR/log_data/**/*.json and writes
OUTPUT_DIR/<table>/part-00000.parquet (Snappy) for songplays, users, songs, artists and time,
with the same rules, column names, column order and types as `sparkify etl` (README, "The star
schema"). Prints one JSON line with its version, threads and timings.

How the input is read (the idiomatic DuckDB way):
- songs: ONE `read_json` over the glob `song_data/**/*.json` with `format='unstructured'` (a file
  may hold several objects, compact or pretty-printed) and an explicit `columns=` map, so no
  schema sampling happens and `artist_name`/`artist_location` are VARCHAR: a JSON number such as
  112 is cast to the text '112', as sparkify does. The scan feeds a GROUP BY song_id directly
  (no materialised copy of the raw rows).
- events: ONE `read_ndjson` over `log_data/**/*.json`, explicit `columns=`, materialised once into
  an in-memory table (its `rowid` is the input order, used for "first wins" tie-breaks).
- everything else is SQL; each table is written with `COPY (...) TO ... (FORMAT parquet)`.
DuckDB uses all cores (threads = os.cpu_count()).
"""

import json
import os
import sys
import time

import duckdb

SONG_COLUMNS = (
    "{song_id: 'VARCHAR', title: 'VARCHAR', artist_id: 'VARCHAR', year: 'INTEGER', "
    "duration: 'DOUBLE', artist_name: 'VARCHAR', artist_location: 'VARCHAR', "
    "artist_latitude: 'DOUBLE', artist_longitude: 'DOUBLE'}"
)
EVENT_COLUMNS = (
    "{ts: 'BIGINT', userId: 'VARCHAR', sessionId: 'INTEGER', itemInSession: 'INTEGER', "
    "page: 'VARCHAR', level: 'VARCHAR', firstName: 'VARCHAR', lastName: 'VARCHAR', "
    "gender: 'VARCHAR', location: 'VARCHAR', userAgent: 'VARCHAR', song: 'VARCHAR', "
    "artist: 'VARCHAR', length: 'DOUBLE'}"
)


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    src, out = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    con = duckdb.connect()  # in-memory
    con.execute(f"SET threads = {os.cpu_count() or 1}")
    con.execute("SET preserve_insertion_order = true")  # rowid = input order (the default)
    song_glob = sql_str(os.path.join(src, "song_data", "**", "*.json"))
    log_glob = sql_str(os.path.join(src, "log_data", "**", "*.json"))

    # --- catalogue: one row per song_id, the first in input order (file path, then object order).
    # The scan is aggregated as it streams: materialising the raw rows first (CREATE TABLE AS
    # SELECT * FROM read_json(...)) keeps one insertion-ordered batch per file, which for 100k
    # song files took ~8 GB and ~3x the CPU time here. row_number() OVER () numbers the objects
    # in scan order (insertion order is preserved: the default).
    con.execute(
        f"""
        CREATE TABLE songs_u AS
        SELECT song_id, s.title, s.artist_id, s.year, s.duration, s.artist_name,
               s.artist_location, s.artist_latitude, s.artist_longitude
        FROM (
            SELECT song_id,
                   arg_min({{title: title, artist_id: artist_id, year: year, duration: duration,
                            artist_name: artist_name, artist_location: artist_location,
                            artist_latitude: artist_latitude, artist_longitude: artist_longitude}},
                           (filename, ord)) AS s
            FROM (
                SELECT *, row_number() OVER () AS ord
                FROM read_json({song_glob}, format = 'unstructured', filename = true,
                               columns = {SONG_COLUMNS})
            )
            WHERE song_id <> '' AND artist_id <> ''
            GROUP BY song_id
        )
        """
    )
    timings = {"song_read_seconds": round(time.perf_counter() - t0, 3)}

    # --- events: parsed once; user_id '' (logged out) is NULL.
    t = time.perf_counter()
    con.execute(
        f"""
        CREATE TABLE events AS
        SELECT ts, CAST(NULLIF(trim(userId), '') AS INTEGER) AS user_id,
               sessionId AS session_id, itemInSession AS item, page, level, firstName, lastName,
               gender, location, userAgent, song, artist, length
        FROM read_ndjson({log_glob}, columns = {EVENT_COLUMNS})
        """
    )
    timings["event_read_seconds"] = round(time.perf_counter() - t, 3)

    # --- songplays: NextSong with a user, deterministic id, exact duplicates collapse (first wins).
    con.execute(
        """
        CREATE TABLE plays AS
        SELECT rowid AS ord,
               CAST('0x' || left(md5(concat_ws('|', ts, user_id, session_id, item)), 15) AS BIGINT)
                   AS songplay_id,
               ts, user_id, level, session_id, location, userAgent, song, artist, length
        FROM events
        WHERE page = 'NextSong' AND user_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY songplay_id ORDER BY rowid) = 1
        """
    )

    def copy(table: str, query: str) -> None:
        os.makedirs(os.path.join(out, table), exist_ok=True)
        path = sql_str(os.path.join(out, table, "part-00000.parquet"))
        con.execute(f"COPY ({query}) TO {path} (FORMAT parquet, COMPRESSION snappy)")

    copy(
        "songplays",
        """
        WITH hit AS (
            SELECT p.songplay_id, min(s.song_id) AS song_id,
                   arg_min(s.artist_id, s.song_id) AS artist_id
            FROM plays p
            JOIN songs_u s
              ON s.title = p.song AND s.artist_name = p.artist
             AND abs(s.duration - p.length) < 1e-6
            GROUP BY p.songplay_id
        )
        SELECT p.songplay_id, epoch_ms(p.ts) AS start_time, p.user_id, p.level,
               hit.song_id, hit.artist_id, p.session_id, p.location, p.userAgent AS user_agent
        FROM plays p LEFT JOIN hit USING (songplay_id)
        """,
    )
    # users: latest event by (ts, itemInSession) over ALL events; on a tie the earlier row wins.
    copy(
        "users",
        """
        SELECT user_id, u.first_name, u.last_name, u.gender, u.level, epoch_ms(u.ts) AS level_at
        FROM (
            SELECT user_id,
                   arg_max({first_name: firstName, last_name: lastName, gender: gender,
                            level: level, ts: ts}, (ts, item, -rowid)) AS u
            FROM events WHERE user_id IS NOT NULL
            GROUP BY user_id
        )
        ORDER BY user_id
        """,
    )
    copy(
        "songs",
        "SELECT song_id, title, artist_id, year, duration FROM songs_u ORDER BY song_id",
    )
    copy(
        "artists",
        """
        SELECT artist_id, artist_name AS name, artist_location AS location,
               artist_latitude AS latitude, artist_longitude AS longitude
        FROM songs_u
        QUALIFY row_number() OVER (PARTITION BY artist_id ORDER BY song_id) = 1
        ORDER BY artist_id
        """,
    )
    copy(
        "time",
        """
        SELECT start_time,
               CAST(hour(start_time) AS INTEGER) AS hour,
               CAST(day(start_time) AS INTEGER) AS day,
               CAST(week(start_time) AS INTEGER) AS week,        -- ISO week
               CAST(month(start_time) AS INTEGER) AS month,
               CAST(year(start_time) AS INTEGER) AS year,
               CAST(dayofweek(start_time) AS INTEGER) AS weekday  -- 0 = Sunday
        FROM (SELECT DISTINCT epoch_ms(ts) AS start_time FROM plays)
        ORDER BY start_time
        """,
    )
    print(
        json.dumps(
            {
                "tool": "duckdb",
                "version": duckdb.__version__,
                "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
            }
            | timings
            | {"seconds": round(time.perf_counter() - t0, 3)}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
