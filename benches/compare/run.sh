#!/usr/bin/env bash
# End-to-end comparison: sparkify etl vs DuckDB vs Polars on the same generated data.
#
#   benches/compare/run.sh [small|default|custom|backfill-0.4|backfill-1|backfill-10]
#
#   small    sparkify generate --songs 2000   --events 50000   --seed 1   (~24 MB, seconds)
#   default  sparkify generate --songs 100000 --events 2300000 --seed 1   (~1.1 GB: ~1 GB of logs
#            + 100k song files; a few minutes, DuckDB needs ~8 GB of RAM)
#   custom   SONGS=… EVENTS=… from the environment
#   backfill-0.4, backfill-1, backfill-10   ~0.4, ~1 and ~10 GB of logs (900k, 2.3 M, 23 M events)
#            + 100k song files; tools `sparkify-window` (`etl --window day`) and polars by default,
#            each run after its own page-cache warm-up (WARM=each); see backfill.sh
#
# Environment:
#   SPARKIFY_BIN=path  use this sparkify binary, skip `cargo build --profile release-lto`
#   NATIVE=1|0         build sparkify for this machine's CPU (`-C target-cpu=native`, into
#                      target/native; default 1, as the peers' wheels pick their SIMD code at run
#                      time) or the portable build (0); both with the `release-lto` profile
#   PYTHON=python3     interpreter that creates the virtualenv
#   DEEP=0|1           also compare full table contents with sparkify's (default: 1 for small)
#   RUNS=3             rounds; each round runs every tool once, in turn, and the report takes each
#                      tool's median wall and CPU time (one run of a few seconds on a shared VM
#                      swings by ±15%; rounds interleave the tools so drift hits them alike)
#   TOOLS="sparkify duckdb polars"   which tools run (sparkify always runs first: the reference);
#                      `sparkify-window` is `sparkify etl --window day` on the same input
#   DAYS=30            days of logs the generator spreads the events over (one log file a day);
#                      another count is another data set, named <size>-<DAYS>d (data, outputs,
#                      results-<size>-<DAYS>d.md)
#   WARM=once|each     read every input file once before the rounds (default) or before every run
#   RSS_LIMIT_MB=n     kill a run whose resident memory passes n MB and record it as failed
#                      (default: half the machine's RAM), so that a peer needing more memory than
#                      the machine has fails alone instead of taking other jobs down with it
#   DATA_ROOT, OUT_ROOT   where data and outputs go (default benches/compare/.data, .out)
#
# Writes benches/compare/results-<size>.md (results-<size>-<DAYS>d.md when DAYS is not 30); exits 1 when a peer's output differs from sparkify's.
set -euo pipefail
export LC_ALL=C

SIZE="${1:-default}"
SEED=1
case "$SIZE" in
small) SONGS=2000 EVENTS=50000 ;;
default) SONGS=100000 EVENTS=2300000 ;;
custom) : "${SONGS:?custom needs SONGS=…}" "${EVENTS:?custom needs EVENTS=…}" ;;
backfill-0.4) SONGS=100000 EVENTS=900000 ;;
backfill-1) SONGS=100000 EVENTS=2300000 ;;
backfill-10) SONGS=100000 EVENTS=23000000 ;;
*)
    echo "usage: $0 [small|default|custom|backfill-0.4|backfill-1|backfill-10]" >&2
    exit 2
    ;;
esac
case "$SIZE" in
backfill-*)
    WARM="${WARM:-each}"
    DEFAULT_TOOLS="sparkify-window polars"
    ;;
*) DEFAULT_TOOLS="duckdb polars" ;;
esac
WARM="${WARM:-once}"
DAYS="${DAYS:-30}"
RUNS="${RUNS:-3}"
case "$RUNS" in
'' | *[!0-9]* | 0)
    echo "RUNS must be a positive number" >&2
    exit 2
    ;;
esac
case "${DEEP:-auto}" in
auto) [ "$SIZE" = small ] && DEEP=1 || DEEP=0 ;;
0 | 1) ;;
*)
    echo "DEEP must be 0 or 1" >&2
    exit 2
    ;;
esac

case "$DAYS" in
'' | *[!0-9]* | 0)
    echo "DAYS must be a positive number" >&2
    exit 2
    ;;
esac
# Another day count is another data set: its own data, outputs and report (e.g. backfill-10-365d).
NAME="$SIZE"
[ "$DAYS" = 30 ] || NAME="$SIZE-${DAYS}d"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$HERE/.venv"
DATA="${DATA_ROOT:-$HERE/.data}/$NAME"
OUT="${OUT_ROOT:-$HERE/.out}/$NAME"
TOOLS="sparkify $(echo "${TOOLS:-$DEFAULT_TOOLS}" | tr ' ' '\n' | grep -vx -e sparkify -e '' | tr '\n' ' ' || true)"

say() { printf '\n== %s\n' "$*" >&2; }

if [ ! -x /usr/bin/time ]; then
    echo "error: /usr/bin/time is missing (apt-get install time)" >&2
    exit 2
fi

# 1. sparkify (the release-lto profile: what is shipped is what is measured)
if [ -n "${SPARKIFY_BIN:-}" ]; then
    BIN="$(cd "$(dirname "$SPARKIFY_BIN")" && pwd)/$(basename "$SPARKIFY_BIN")"
    BUILD="binary given by SPARKIFY_BIN"
    say "sparkify: $BIN (SPARKIFY_BIN, not rebuilt)"
elif [ "${NATIVE:-1}" = 1 ]; then
    say "cargo build --profile release-lto with -C target-cpu=native (target/native)"
    (cd "$ROOT" && RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=native" CARGO_TARGET_DIR="$ROOT/target/native" \
        cargo build --profile release-lto --locked --bin sparkify)
    BIN="$ROOT/target/native/release-lto/sparkify"
    BUILD="release-lto build, -C target-cpu=native"
else
    say "cargo build --profile release-lto"
    (cd "$ROOT" && cargo build --profile release-lto --locked --bin sparkify)
    TARGET_DIR="${CARGO_TARGET_DIR:-target}"
    case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
    BIN="$TARGET_DIR/release-lto/sparkify"
    BUILD="portable release-lto build"
fi
[ -x "$BIN" ] || {
    echo "error: no sparkify binary at $BIN" >&2
    exit 2
}
SPARKIFY_VERSION="$("$BIN" --version)"

# 2. virtualenv with the pinned peers (re-created when requirements.txt changes)
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: duckdb 2 and polars 2 need Python >= 3.11; set PYTHON=… ($PYTHON is $("$PYTHON" -V 2>&1))" >&2
    exit 2
fi
if ! cmp -s "$HERE/requirements.txt" "$VENV/.requirements.txt" 2>/dev/null; then
    say "virtualenv $VENV ($(tr '\n' ' ' <"$HERE/requirements.txt"))"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --disable-pip-version-check -q -r "$HERE/requirements.txt"
    cp "$HERE/requirements.txt" "$VENV/.requirements.txt"
fi
PY="$VENV/bin/python"

# 3. data, reused while its stamp matches
PARAMS="--songs $SONGS --events $EVENTS --seed $SEED --days $DAYS"
STAMP="$PARAMS ($SPARKIFY_VERSION)"
if [ "$(cat "$DATA/.generated" 2>/dev/null)" != "$STAMP" ]; then
    say "sparkify generate $PARAMS -> $DATA"
    rm -rf "$DATA"
    mkdir -p "$DATA"
    # shellcheck disable=SC2086
    "$BIN" generate --output "$DATA" $PARAMS
    echo "$STAMP" >"$DATA/.generated"
else
    say "reusing $DATA ($STAMP)"
fi

# 4. the runs, in rounds, page cache warmed first so no tool pays for a cold read (the VM pages
# out memory idle for a minute: WARM=each reads the input again right before every run)
warm() {
    find "$DATA/log_data" "$DATA/song_data" -type f -print0 | xargs -0 cat >/dev/null
}
say "warming the page cache"
warm
mkdir -p "$OUT"
LOAD_BEFORE=""
RSS_LIMIT_MB="${RSS_LIMIT_MB:-$(awk '/^MemTotal:/ { printf "%d", $2 * 1024 / 2e6 }' /proc/meminfo)}"

guard() { # guard PID AT: kill the child of PID (the measured process) when its RSS passes the limit
    local child="" rss key value _
    while kill -0 "$1" 2>/dev/null; do
        [ -n "$child" ] || read -r child _ 2>/dev/null <"/proc/$1/task/$1/children" || true
        if [ -n "$child" ]; then
            rss=0
            while read -r key value _; do
                [ "$key" = VmRSS: ] && rss="$value"
            done 2>/dev/null <"/proc/$child/status" || true
            if [ "$rss" -gt $((RSS_LIMIT_MB * 1000)) ]; then
                echo "killed: resident memory passed RSS_LIMIT_MB=$RSS_LIMIT_MB" >"$2.killed"
                kill -KILL "$child" 2>/dev/null || true
                return
            fi
        fi
        sleep 0.2
    done
}

run() { # run NAME ROUND CMD…: wall-clock stamps, /usr/bin/time -v, exit status, stdout/stderr into $OUT
    local name="$1" round="$2" start end rc pid gpid
    shift 2
    local at="$OUT/$name.$round"
    rm -rf "${OUT:?}/$name"
    [ "$WARM" = once ] || warm
    say "$name (round $round/$RUNS): $*"
    start="$EPOCHREALTIME"
    set +e
    /usr/bin/time -v -o "$at.time" "$@" >"$at.stdout" 2>"$at.stderr" &
    pid=$!
    guard "$pid" "$at" &
    gpid=$!
    wait "$pid"
    rc=$?
    end="$EPOCHREALTIME"
    kill "$gpid" 2>/dev/null
    wait "$gpid" 2>/dev/null
    set -e
    [ ! -e "$at.killed" ] || cat "$at.killed" >>"$at.stderr"
    echo "$start $end" >"$at.wall"
    echo "$rc" >"$at.rc"
    echo "   exit $rc, $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f s", b - a }'), $(grep -o 'Maximum resident set size.*' "$at.time")" >&2
    [ "$rc" = 0 ] || tail -n 5 "$at.stderr" >&2
}

rm -f "$OUT"/*.wall "$OUT"/*.time "$OUT"/*.rc "$OUT"/*.stdout "$OUT"/*.stderr "$OUT"/*.killed
for round in $(seq 1 "$RUNS"); do
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    say "round $round/$RUNS, load average $load"
    LOAD_BEFORE="${LOAD_BEFORE:+$LOAD_BEFORE; }round $round: $load"
    for tool in $TOOLS; do
        case "$tool" in
        sparkify) (cd "$OUT" && run sparkify "$round" "$BIN" etl --input "$DATA" --output "$OUT/sparkify" --target local --json) ;;
        sparkify-window) (cd "$OUT" && run sparkify-window "$round" "$BIN" etl --input "$DATA" --output "$OUT/sparkify-window" --target local --json --window day) ;;
        duckdb) run duckdb "$round" "$PY" "$HERE/duckdb_etl.py" "$DATA" "$OUT/duckdb" ;;
        polars) run polars "$round" "$PY" "$HERE/polars_etl.py" "$DATA" "$OUT/polars" ;;
        *)
            echo "error: unknown tool $tool" >&2
            exit 2
            ;;
        esac
    done
done

# 5. checks and the report
say "checking the outputs against sparkify's${DEEP:+ (deep=$DEEP)}"
"$PY" "$HERE/report.py" --size "$NAME" --params "$PARAMS" --data "$DATA" --run-dir "$OUT" \
    --tools "$TOOLS" --runs "$RUNS" --md "$HERE/results-$NAME.md" --deep "$DEEP" \
    --sparkify-version "$SPARKIFY_VERSION ($BUILD)" \
    --git-rev "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)" \
    --load-before "$LOAD_BEFORE"
