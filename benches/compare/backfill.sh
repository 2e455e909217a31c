#!/usr/bin/env bash
# Backfill benchmark: sparkify one-shot vs `sparkify etl --window day` vs Polars at ~0.4, ~1 and
# ~10 GB of logs (100k song files, 30 daily log files), each size with run.sh's rounds.
#
#   benches/compare/backfill.sh [0.4] [1] [10]      (default: all three)
#   DAYS=365 benches/compare/backfill.sh 10         the same events over 365 daily files
#                                                   (data set and report backfill-10-365d)
#
# Runs `run.sh backfill-<size>` for each size (TOOLS="sparkify-window polars", the input read
# again before every run); RUNS defaults to 3, and to 2 at 10 GB (each round there takes minutes).
# Every other knob of run.sh applies (SPARKIFY_BIN, NATIVE, DATA_ROOT, OUT_ROOT, RSS_LIMIT_MB, …);
# the 10 GB set needs ~11 GB of disk under DATA_ROOT and ~3 GB more for the outputs under OUT_ROOT.
# Writes benches/compare/results-backfill-<size>.md (…-<DAYS>d.md when DAYS is not 30); exits 1
# if any size's checks failed (a peer killed at RSS_LIMIT_MB counts as failed and is reported as
# such; the other sizes still run).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(0.4 1 10)
status=0
for size in "${SIZES[@]}"; do
    case "$size" in
    0.4 | 1) runs="${RUNS:-3}" ;;
    10) runs="${RUNS:-2}" ;;
    *)
        echo "usage: $0 [0.4] [1] [10]" >&2
        exit 2
        ;;
    esac
    RUNS="$runs" "$HERE/run.sh" "backfill-$size" || status=1
done
exit "$status"
