#!/usr/bin/env python3
"""The sparkify star schema built with Polars, for the comparison benchmark.

Usage: polars_etl.py INPUT_DIR OUTPUT_DIR

Reads INPUT_DIR/song_data/**/*.json and INPUT_DIR/log_data/**/*.json and writes
OUTPUT_DIR/<table>/part-00000.parquet (Snappy) for songplays, users, songs, artists and time,
with the same rules, column names, column order and types as `sparkify etl` (README, "The star
schema"). Prints one JSON line with its timings.

How the input is read:
- events: ONE `pl.scan_ndjson` over the glob `log_data/**/*.json` with an explicit schema (only the
  14 fields used; no inference), collected once on all cores.
- songs: Polars has no reader for "one or more JSON objects per file, maybe pretty-printed"
  (`scan_ndjson` over the song glob fails on the pretty-printed files), so the files are listed
  with `os.walk` (sorted, dot-files skipped), read with `os.read`, and joined into ONE NDJSON
  buffer for one `pl.read_ndjson` with an explicit schema. A file holding exactly one `}` is one
  flat object: its newlines (JSON whitespace) become spaces. Any other file (several objects, or
  a `}` inside a string) is split with `json.JSONDecoder.raw_decode` and its objects re-dumped.
  A JSON number in `artist_name`/`artist_location` is read as text by the String schema ('112').
- songplay_id needs MD5, which Polars lacks: it is computed in a `map_batches` with Python's
  `hashlib` (single-threaded; its time is printed as `md5_seconds`).
Polars uses its default thread pool (all cores).
"""

import hashlib
import io
import json
import os
import sys
import time

import polars as pl

SONG_SCHEMA = {
    "song_id": pl.String,
    "title": pl.String,
    "artist_id": pl.String,
    "year": pl.Int32,
    "duration": pl.Float64,
    "artist_name": pl.String,
    "artist_location": pl.String,
    "artist_latitude": pl.Float64,
    "artist_longitude": pl.Float64,
}
EVENT_SCHEMA = {
    "ts": pl.Int64,
    "userId": pl.String,
    "sessionId": pl.Int32,
    "itemInSession": pl.Int32,
    "page": pl.String,
    "level": pl.String,
    "firstName": pl.String,
    "lastName": pl.String,
    "gender": pl.String,
    "location": pl.String,
    "userAgent": pl.String,
    "song": pl.String,
    "artist": pl.String,
    "length": pl.Float64,
}
TIMINGS: dict = {}


def list_json(root: str) -> list:
    """Every `*.json` under `root`, sorted by path, hidden files and folders skipped."""
    paths = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        paths.extend(
            os.path.join(folder, f) for f in files if f.endswith(".json") and not f.startswith(".")
        )
    paths.sort()
    return paths


def read_file(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        parts = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            parts.append(chunk)
    finally:
        os.close(fd)
    return b"".join(parts)


def song_lines(paths: list) -> bytes:
    """The song files as one NDJSON buffer, objects in input order."""
    lines = []
    decoder = json.JSONDecoder()
    for path in paths:
        data = read_file(path).strip()
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:].lstrip()
        if not data:
            continue
        if data.count(b"}") == 1:  # one flat object, compact or pretty-printed
            lines.append(data.replace(b"\r", b" ").replace(b"\n", b" ") if b"\n" in data else data)
            continue
        text, pos = data.decode("utf-8"), 0
        while pos < len(text):
            obj, end = decoder.raw_decode(text, pos)
            lines.append(json.dumps(obj).encode())
            pos = end
            while pos < len(text) and text[pos].isspace():
                pos += 1
    return b"\n".join(lines)


def md5_ids(keys: pl.Series) -> pl.Series:
    """songplay_id = int(md5(key).hexdigest()[:15], 16), i.e. the first 60 bits of the digest."""
    t = time.perf_counter()
    md5, from_bytes = hashlib.md5, int.from_bytes
    ids = [from_bytes(md5(k).digest()[:8], "big") >> 4 for k in keys.cast(pl.Binary).to_list()]
    out = pl.Series(keys.name, ids, dtype=pl.Int64)
    TIMINGS["md5_seconds"] = round(time.perf_counter() - t, 3)
    return out


def write(df: pl.DataFrame, out: str, table: str) -> None:
    os.makedirs(os.path.join(out, table), exist_ok=True)
    df.write_parquet(os.path.join(out, table, "part-00000.parquet"), compression="snappy")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    src, out = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()

    # --- catalogue: one row per song_id, the first in input order; artists from the smallest song_id.
    t = time.perf_counter()
    buf = song_lines(list_json(os.path.join(src, "song_data")))
    song_rows = pl.read_ndjson(io.BytesIO(buf), schema=SONG_SCHEMA)
    del buf
    TIMINGS["song_read_seconds"] = round(time.perf_counter() - t, 3)
    songs_u = (
        song_rows.filter((pl.col("song_id") != "") & (pl.col("artist_id") != ""))
        .unique("song_id", keep="first", maintain_order=True)
        .sort("song_id")
    )
    write(songs_u.select("song_id", "title", "artist_id", "year", "duration"), out, "songs")
    write(
        songs_u.unique("artist_id", keep="first", maintain_order=True)
        .sort("artist_id")
        .select(
            "artist_id",
            pl.col("artist_name").alias("name"),
            pl.col("artist_location").alias("location"),
            pl.col("artist_latitude").alias("latitude"),
            pl.col("artist_longitude").alias("longitude"),
        ),
        out,
        "artists",
    )

    # --- events: parsed once, on all cores; '' (logged out) user ids are null.
    t = time.perf_counter()
    uid = pl.col("userId").str.strip_chars()
    events = (
        pl.scan_ndjson(os.path.join(src, "log_data", "**", "*.json"), schema=EVENT_SCHEMA)
        .with_row_index("ord")
        .with_columns(
            user_id=pl.when(uid == "").then(None).otherwise(uid).cast(pl.Int32),
            start_time=pl.from_epoch("ts", time_unit="ms").cast(pl.Datetime("us")),
        )
        .collect()
    )
    TIMINGS["event_read_seconds"] = round(time.perf_counter() - t, 3)

    # --- songplays: NextSong with a user; exact duplicates (same id) collapse, the first wins.
    plays = (
        events.lazy()
        .filter((pl.col("page") == "NextSong") & pl.col("user_id").is_not_null())
        .with_columns(
            songplay_id=pl.concat_str(
                ["ts", "user_id", "sessionId", "itemInSession"], separator="|"
            ).map_batches(md5_ids, return_dtype=pl.Int64)
        )
        .unique("songplay_id", keep="first", maintain_order=True)
        .collect()
    )
    hits = (
        plays.lazy()
        .select("songplay_id", "song", "artist", "length")
        .join(
            songs_u.lazy().select("song_id", "title", "artist_name", "duration", "artist_id"),
            left_on=["song", "artist"],
            right_on=["title", "artist_name"],
            how="inner",
        )
        .filter((pl.col("duration") - pl.col("length")).abs() < 1e-6)
        .group_by("songplay_id")
        .agg(pl.col("song_id").min(), pl.col("artist_id").sort_by("song_id").first())
    )
    songplays = (
        plays.lazy()
        .join(hits, on="songplay_id", how="left")
        .select(
            "songplay_id",
            "start_time",
            "user_id",
            "level",
            "song_id",
            "artist_id",
            pl.col("sessionId").alias("session_id"),
            "location",
            pl.col("userAgent").alias("user_agent"),
        )
        .collect()
    )
    write(songplays, out, "songplays")

    # --- users: latest event by (ts, itemInSession) over ALL events; on a tie the earlier row wins.
    latest = (
        events.lazy()
        .filter(pl.col("user_id").is_not_null())
        .group_by("user_id")
        .agg(
            pl.col("ord")
            .sort_by(["ts", "itemInSession", "ord"], descending=[True, True, False])
            .first()
        )
    )
    users = (
        events.lazy()
        .join(latest, on=["user_id", "ord"], how="semi")
        .select(
            "user_id",
            pl.col("firstName").alias("first_name"),
            pl.col("lastName").alias("last_name"),
            "gender",
            "level",
            pl.col("start_time").alias("level_at"),
        )
        .sort("user_id")
        .collect()
    )
    write(users, out, "users")

    # --- time: one row per distinct songplays start_time.
    st = pl.col("start_time")
    time_table = (
        songplays.lazy()
        .select(st.unique())
        .sort("start_time")
        .select(
            st,
            st.dt.hour().cast(pl.Int32).alias("hour"),
            st.dt.day().cast(pl.Int32).alias("day"),
            st.dt.week().cast(pl.Int32).alias("week"),  # ISO week
            st.dt.month().cast(pl.Int32).alias("month"),
            st.dt.year().cast(pl.Int32).alias("year"),
            (st.dt.weekday() % 7).cast(pl.Int32).alias("weekday"),  # ISO 7 = Sunday -> 0
        )
        .collect()
    )
    write(time_table, out, "time")

    TIMINGS["seconds"] = round(time.perf_counter() - t0, 3)
    print(
        json.dumps(
            {"tool": "polars", "version": pl.__version__, "threads": pl.thread_pool_size()}
            | TIMINGS
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
