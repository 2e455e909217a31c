#!/usr/bin/env python3
"""Checks and reports one run of benches/compare/run.sh (called by it; not meant to be run alone).

For each tool and round it reads what run.sh left in RUN_DIR (<tool>.<round>.wall, .time from
`/usr/bin/time -v`, .rc, .stdout) and the Parquet tables of the last round in RUN_DIR/<tool>/, then:
- takes the median wall and CPU time over the rounds, and the largest peak RSS;
- counts the rows of every table and the matched songplays (non-null song_id);
- fails (exit 1) when a peer's row count, matched count or column names/types differ from
  sparkify's, or when a tool failed; with --deep also when any table's contents differ
  (EXCEPT ALL both ways);
- prints the results table and sparkify's speed-up, and writes them as Markdown to --md.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys

import duckdb

TABLES = ["songplays", "users", "songs", "artists", "time"]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--size", required=True)
    p.add_argument("--params", required=True, help="generator parameters, for the report")
    p.add_argument("--data", required=True, help="input folder (song_data/, log_data/)")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--tools", required=True, help="space-separated; sparkify first")
    p.add_argument("--runs", type=int, default=1, help="rounds run.sh made")
    p.add_argument("--md", required=True)
    p.add_argument("--deep", type=int, default=0)
    p.add_argument("--sparkify-version", default="")
    p.add_argument("--git-rev", default="")
    p.add_argument("--load-before", default="")
    return p.parse_args()


def input_bytes(data: str) -> int:
    total = 0
    for sub in ("log_data", "song_data"):
        for folder, _dirs, files in os.walk(os.path.join(data, sub)):
            total += sum(os.path.getsize(os.path.join(folder, f)) for f in files)
    return total


def read(path: str, default: str = "") -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return default


def peak_rss_mb(time_v: str):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_v)
    return int(m.group(1)) * 1024 / 1e6 if m else None


def cpu_seconds(time_v: str):
    """User + system CPU seconds of the process (all its threads)."""
    u = re.search(r"User time \(seconds\): ([\d.]+)", time_v)
    s = re.search(r"System time \(seconds\): ([\d.]+)", time_v)
    return float(u.group(1)) + float(s.group(1)) if u and s else None


def wall_seconds(wall: str):
    parts = wall.split()
    return float(parts[1]) - float(parts[0]) if len(parts) == 2 else None


def last_json_line(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                pass
    try:
        return json.loads(text)  # sparkify prints one (possibly multi-line) object
    except json.JSONDecodeError:
        return {}


def glob(run_dir: str, tool: str, table: str) -> str:
    return os.path.join(run_dir, tool, table, "*.parquet").replace("'", "''")


def main() -> int:
    a = parse_args()
    tools = a.tools.split()
    con = duckdb.connect()
    in_bytes = input_bytes(a.data)
    failures = []
    res = {}
    for tool in tools:
        rounds = [os.path.join(a.run_dir, f"{tool}.{n}") for n in range(1, a.runs + 1)]
        codes = [read(f"{at}.rc", "?").strip() for at in rounds]
        walls = [wall_seconds(read(f"{at}.wall")) for at in rounds]
        cpus = [cpu_seconds(read(f"{at}.time")) for at in rounds]
        rsss = [peak_rss_mb(read(f"{at}.time")) for at in rounds]
        failed = next((n for n, rc in enumerate(codes) if rc != "0"), None)
        r = {
            "rc": "0" if failed is None else codes[failed],
            "walls": walls,
            "wall": statistics.median(walls) if None not in walls else None,
            "rss": max(rsss) if None not in rsss else None,
            "cpu": statistics.median(cpus) if None not in cpus else None,
            "out": last_json_line(read(f"{rounds[-1]}.stdout")),
            "rows": {},
            "schema": {},
            "matched": None,
        }
        res[tool] = r
        if failed is not None:
            err = read(f"{rounds[failed]}.stderr").strip().splitlines()[-5:]
            failures.append(f"{tool} (round {failed + 1}) exited with status {r['rc']}: " + " | ".join(err))
            continue
        for t in TABLES:
            g = glob(a.run_dir, tool, t)
            try:
                r["rows"][t] = con.execute(f"SELECT count(*) FROM read_parquet('{g}')").fetchone()[0]
                r["schema"][t] = [
                    (c[0], c[1]) for c in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{g}')").fetchall()
                ]
            except duckdb.Error as e:
                failures.append(f"{tool}: cannot read table {t}: {e}")
        try:
            g = glob(a.run_dir, tool, "songplays")
            r["matched"] = con.execute(
                f"SELECT count(song_id) FROM read_parquet('{g}')"
            ).fetchone()[0]
        except duckdb.Error:
            pass

    ref = res.get("sparkify")
    if ref and ref["rc"] == "0":
        summary = {t["name"]: t["rows"] for t in ref["out"].get("tables", [])}
        if summary and summary != ref["rows"]:
            failures.append(f"sparkify: --json summary rows {summary} != Parquet rows {ref['rows']}")
        if ref["out"].get("matched_songplays") not in (None, ref["matched"]):
            failures.append("sparkify: --json matched_songplays != non-null song_id in Parquet")
        if ref["out"].get("truncated"):
            print(f"note: sparkify cut text values {ref['out']['truncated']}; the peers do not cut")
        if ref["out"].get("input_bytes") not in (None, in_bytes):
            print(f"note: sparkify read {ref['out']['input_bytes']} input bytes, files hold {in_bytes}")
        for tool in tools[1:]:
            r = res[tool]
            if r["rc"] != "0":
                continue
            for t in TABLES:
                if r["rows"].get(t) != ref["rows"].get(t):
                    failures.append(f"{tool}: {t} has {r['rows'].get(t)} rows, sparkify {ref['rows'].get(t)}")
                if t in r["schema"] and r["schema"][t] != ref["schema"].get(t):
                    failures.append(f"{tool}: {t} columns {r['schema'][t]} != sparkify's {ref['schema'].get(t)}")
            if r["matched"] != ref["matched"]:
                failures.append(f"{tool}: {r['matched']} matched songplays, sparkify {ref['matched']}")
            if a.deep:
                for t in TABLES:
                    mine, theirs = glob(a.run_dir, tool, t), glob(a.run_dir, "sparkify", t)
                    try:
                        only_peer, only_ref = con.execute(
                            f"""SELECT
                                (SELECT count(*) FROM (SELECT * FROM read_parquet('{mine}')
                                    EXCEPT ALL SELECT * FROM read_parquet('{theirs}'))),
                                (SELECT count(*) FROM (SELECT * FROM read_parquet('{theirs}')
                                    EXCEPT ALL SELECT * FROM read_parquet('{mine}')))"""
                        ).fetchone()
                    except duckdb.Error as e:
                        failures.append(f"{tool}: deep check of {t} failed: {e}")
                        continue
                    if only_peer or only_ref:
                        failures.append(
                            f"{tool}: {t} contents differ: {only_peer} rows only in {tool}, "
                            f"{only_ref} only in sparkify"
                        )
    elif "sparkify" in tools:
        failures.append("sparkify failed: nothing to compare against")

    # ---- the table
    mb = in_bytes / 1e6
    head = ["tool", "wall s", "rounds' wall s", "MB/s", "CPU s", "peak RSS MB"] + TABLES + ["matched"]
    rows = []
    for tool in tools:
        r = res[tool]
        w = r["wall"]
        rows.append(
            [
                tool,
                f"{w:.2f}" if w else "-",
                " ".join(f"{x:.2f}" for x in r["walls"] if x is not None) or "-",
                f"{mb / w:.0f}" if w and r["rc"] == "0" else "-",
                f"{r['cpu']:.2f}" if r["cpu"] is not None else "-",
                f"{r['rss']:.0f}" if r["rss"] else "-",
            ]
            + [f"{r['rows'][t]:,}" if t in r["rows"] else "-" for t in TABLES]
            + [f"{r['matched']:,}" if r["matched"] is not None else "-"]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    speedups = []
    if ref and ref["wall"] and ref["rc"] == "0":
        for tool in tools[1:]:
            w = res[tool]["wall"]
            if w and res[tool]["rc"] == "0":
                rss = (res[tool]["rss"] or 0) / (ref["rss"] or 1)
                rounds = " ".join(f"{p / s:.2f}x" for p, s in zip(res[tool]["walls"], ref["walls"]))
                speedups.append(
                    f"sparkify speed-up vs {tool}: {w / ref['wall']:.2f}x "
                    f"({tool} median wall / sparkify median wall; round by round {rounds}); "
                    f"{tool} peak RSS = {rss:.1f}x sparkify's"
                )
    versions = {tool: res[tool]["out"].get("version", "") for tool in tools[1:]}
    versions["sparkify"] = a.sparkify_version.removeprefix("sparkify ")
    extra = {tool: {k: v for k, v in res[tool]["out"].items() if k.endswith("seconds") or k == "threads"}
             for tool in tools[1:]}

    print()
    print(f"input: {mb:,.1f} MB ({a.params})")
    print(line(head))
    for row in rows:
        print(line(row))
    for s in speedups:
        print(s)
    for tool, e in extra.items():
        if e:
            print(f"{tool} internals: {json.dumps(e)}")

    status = "PASS" if not failures else "FAIL"
    checks = "row counts, matched songplays and column names/types equal sparkify's"
    if a.deep:
        checks += "; full table contents equal (EXCEPT ALL both ways)"
    print(f"checks ({checks}): {status}")
    for f in failures:
        print(f"  - {f}")

    cpu = ""
    for l in read("/proc/cpuinfo").splitlines():
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip()
            break
    md = [
        f"# sparkify vs DuckDB vs Polars — size `{a.size}`",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- data: `sparkify generate {a.params}` — {mb:,.1f} MB of input (log_data + song_data)",
        f"- machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}; "
        f"load average before the run: {a.load_before}",
        f"- versions: sparkify {versions['sparkify']} (git {a.git_rev}), "
        + ", ".join(f"{t} {v}" for t, v in versions.items() if t != "sparkify"),
        f"- {a.runs} round(s), each running every tool once in turn; wall s and CPU s are each tool's "
        "median over the rounds, peak RSS its largest",
        "- wall = the whole process (Python start-up and imports included), peak RSS = "
        "`/usr/bin/time -v` maximum resident set size (MB = 10^6 bytes), MB/s = input MB / wall s, "
        "CPU s = user + system seconds of all threads (less disturbed than wall by other jobs)",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    md += ["| " + " | ".join(row) + " |" for row in rows]
    md += [""] + [f"- {s}" for s in speedups]
    md += [f"- {tool} internals: `{json.dumps(e)}`" for tool, e in extra.items() if e]
    md += ["", f"Checks ({checks}): **{status}**"] + [f"- {f}" for f in failures]
    md += [
        "",
        "On a shared 2-core VM a single run of a few seconds swings by ±15%: hence the rounds and "
        "medians; every figure is meaningless while other jobs load the machine (see the load "
        "average above).",
        "",
    ]
    with open(a.md, "w", encoding="utf-8") as f:
        f.write("\n".join(md))
    print(f"wrote {a.md}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
