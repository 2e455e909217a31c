//! Backfills: `--since`/`--until` against counts taken from the NDJSON itself, `--window
//! day|week|month` against a one-shot run (on the sample and on generated multi-month data with
//! events at window edges and a user whose level changes across windows), and `--resume` after a
//! SIGKILL in the middle of a windowed run.
#![cfg(unix)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

use arrow::array::{Int32Array, StringArray};
use arrow::record_batch::RecordBatch;
use common::{col, copy_dir, read_table, same_rows, sample, sparkify, sparkify_ok};

const TABLES: [&str; 5] = ["songplays", "users", "songs", "artists", "time"];

/// `etl --input <input> --output <out> --json <extra…>` in `dir`; its JSON summary.
fn etl(dir: &Path, input: &Path, out: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "etl",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out,
        "--json",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&sparkify_ok(dir, &args)).unwrap()
}

fn tables(out: &Path) -> Vec<RecordBatch> {
    TABLES.iter().map(|t| read_table(out, t)).collect()
}

/// Asserts that two outputs hold the same rows, table by table, in the same order.
fn assert_same(a: &Path, b: &Path) {
    for (table, (x, y)) in TABLES.iter().zip(tables(a).iter().zip(&tables(b))) {
        assert!(
            same_rows(x, y),
            "{table}: {} rows in {} vs {} in {}",
            x.num_rows(),
            a.display(),
            y.num_rows(),
            b.display()
        );
    }
}

fn rows(summary: &serde_json::Value, table: &str) -> u64 {
    summary["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == table)
        .unwrap()["rows"]
        .as_u64()
        .unwrap()
}

#[test]
fn windowed_runs_equal_a_one_shot_run_on_the_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    etl(dir, &sample(), "one", &[]);
    // The last window ends on 2018-12-01, or on the Monday after the last ISO week.
    let ends = [
        ("day", 30, 1_543_622_400_000i64),
        ("week", 5, 1_543_795_200_000),
        ("month", 1, 1_543_622_400_000),
    ];
    for (size, windows, end) in ends {
        let out = format!("by-{size}");
        let s = etl(dir, &sample(), &out, &["--window", size]);
        assert_eq!(s["windows"]["done"], windows, "{size}");
        assert_eq!(rows(&s, "songplays"), 6820);
        assert_eq!(rows(&s, "time"), 6813);
        assert_eq!(rows(&s, "users"), 97);
        assert_same(&dir.join("one"), &dir.join(&out));
        let parts = std::fs::read_dir(dir.join(&out).join("songplays")).unwrap();
        assert_eq!(parts.count(), windows, "one songplays part per window");
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(&out).join("_windows.json")).unwrap())
                .unwrap();
        assert_eq!(state["window"], size);
        assert_eq!(state["done_until"], end, "{size}");
    }
}

/// What a range of the sample holds, counted from the NDJSON: song plays, distinct start
/// times, distinct users (all pages), events in the range.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    plays: u64,
    times: usize,
    users: usize,
    events: u64,
}

fn count_json(logs: &Path, since: i64, until: i64) -> Counts {
    let mut c = Counts::default();
    let (mut times, mut users) = (BTreeSet::new(), BTreeSet::new());
    for entry in std::fs::read_dir(logs).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let ev: serde_json::Value = serde_json::from_str(line).unwrap();
            let ts = ev["ts"].as_i64().unwrap();
            if ts < since || ts >= until {
                continue;
            }
            c.events += 1;
            let user = ev["userId"].as_str().unwrap_or("");
            if !user.is_empty() {
                users.insert(user.to_string());
            }
            if ev["page"] == "NextSong" {
                c.plays += 1;
                times.insert(ts);
            }
        }
    }
    c.times = times.len();
    c.users = users.len();
    c
}

#[test]
fn since_and_until_give_the_counts_of_the_json_and_skip_files_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let input = dir.join("in");
    copy_dir(&sample(), &input);
    // A file named for a day after the range, which is not JSON: it must not even be read.
    std::fs::create_dir_all(input.join("log_data/2018/12")).unwrap();
    std::fs::write(
        input.join("log_data/2018/12/2018-12-01-events.json"),
        b"not json\n",
    )
    .unwrap();
    let (since, until) = ("2018-11-05T06:00:00Z", "2018-11-20");
    let expected = count_json(
        &sample().join("log_data/2018/11"),
        1_541_397_600_000,
        1_542_672_000_000,
    );
    assert!(expected.plays > 1000 && expected.users > 10, "{expected:?}");
    for extra in [&[][..], &["--window", "day"], &["--window", "week"]] {
        let mut args = vec!["--since", since, "--until", until];
        args.extend_from_slice(extra);
        let s = etl(dir, &input, "out", &args);
        let users = read_table(&dir.join("out"), "users");
        let got = Counts {
            plays: rows(&s, "songplays"),
            times: rows(&s, "time") as usize,
            users: users.num_rows(),
            events: s["event_lines"].as_u64().unwrap() - s["out_of_range_events"].as_u64().unwrap(),
        };
        assert_eq!(got, expected, "{extra:?}");
        assert_eq!(
            s["rejected"], 0,
            "the file after --until was read: {extra:?}"
        );
        // Days 5 to 19: fifteen files read, the others not.
        assert_eq!(s["log_files"], 15, "{extra:?}");
    }
    // Without --until the bad file is read (and its line rejected).
    let out = sparkify(dir, &["etl", "--input", "in", "--output", "all"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn windowed_runs_equal_a_one_shot_run_on_the_large_set() {
    let large = common::large();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let one = etl(dir, &large, "one", &[]);
    let by_day = etl(dir, &large, "by-day", &["--window", "day"]);
    assert_eq!(by_day["matched_songplays"], one["matched_songplays"]);
    assert_same(&dir.join("one"), &dir.join("by-day"));
}

/// Appends `lines` to the log file of `day` (`YYYY-MM-DD`) under `input`.
fn add_events(input: &Path, day: &str, lines: &[String]) {
    let path = input.join(format!(
        "log_data/{}/{}/{day}-events.json",
        &day[..4],
        &day[5..7]
    ));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
}

fn event(user: u32, level: &str, ts: i64, item: u32) -> String {
    format!(
        r#"{{"artist":"Edge Band","auth":"Logged In","firstName":"Edge","gender":"F","itemInSession":{item},"lastName":"Case","length":200.5,"level":"{level}","location":"Here","method":"PUT","page":"NextSong","registration":1.5e12,"sessionId":77,"song":"Midnight","status":200,"ts":{ts},"userAgent":"agent","userId":"{user}"}}"#
    )
}

/// Generated data over 75 days (three months), plus a user whose plays sit on the last and first
/// millisecond of days, weeks and months, changing level between them, and a duplicate play.
fn generated(dir: &Path) -> std::path::PathBuf {
    let input = dir.join("gen");
    sparkify_ok(
        dir,
        &[
            "generate", "--output", "gen", "--songs", "300", "--events", "60000", "--days", "75",
            "--seed", "18",
        ],
    );
    // 2018-11-30T23:59:59.999Z (a Friday, last ms of November) and 2018-12-01T00:00:00.000Z;
    // 2018-12-09T23:59:59.999Z (Sunday, last ms of an ISO week) and 2018-12-10T00:00Z.
    let edges = [
        ("2018-11-30", 1_543_622_399_999, "free"),
        ("2018-12-01", 1_543_622_400_000, "paid"),
        ("2018-12-09", 1_544_399_999_999, "free"),
        ("2018-12-10", 1_544_400_000_000, "paid"),
    ];
    for (item, (day, ts, level)) in edges.iter().enumerate() {
        let line = event(99_001, level, *ts, item as u32);
        add_events(&input, day, &[line.clone(), line]);
    }
    input
}

#[test]
fn windowed_runs_equal_a_one_shot_run_on_generated_months() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let input = generated(dir);
    let one = etl(dir, &input, "one", &[]);
    assert!(one["duplicate_events"].as_u64().unwrap() >= 4);
    let users = read_table(&dir.join("one"), "users");
    let ids = col::<Int32Array>(&users, "user_id");
    let levels = col::<StringArray>(&users, "level");
    let at = (0..users.num_rows())
        .find(|&i| ids.value(i) == 99_001)
        .unwrap();
    assert_eq!(levels.value(at), "paid");
    for (size, windows) in [("day", 75), ("week", 12), ("month", 3)] {
        let out = format!("by-{size}");
        let s = etl(dir, &input, &out, &["--window", size]);
        assert_eq!(s["windows"]["done"], windows, "{size}");
        assert_eq!(s["duplicate_events"], one["duplicate_events"], "{size}");
        assert_same(&dir.join("one"), &dir.join(&out));
    }
    // A range cutting through the edges, windowed and not.
    let range = [
        "--since",
        "2018-11-30T23:59:59.999Z",
        "--until",
        "2018-12-10",
    ];
    etl(dir, &input, "range", &range);
    let mut windowed = range.to_vec();
    windowed.extend(["--window", "week"]);
    etl(dir, &input, "range-week", &windowed);
    assert_same(&dir.join("range"), &dir.join("range-week"));
    let users = read_table(&dir.join("range-week"), "users");
    let ids = col::<Int32Array>(&users, "user_id");
    let at = (0..users.num_rows())
        .find(|&i| ids.value(i) == 99_001)
        .unwrap();
    assert_eq!(col::<StringArray>(&users, "level").value(at), "free");
}

/// The `etl --window day` command on `input` → `<dir>/out`, killed at `kill_at` when given.
fn windowed(dir: &Path, input: &Path, extra: &[&str], kill_at: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sparkify"));
    cmd.args(["etl", "--input", input.to_str().unwrap(), "--output", "out"])
        .args(["--window", "day", "--quiet"])
        .args(extra)
        .current_dir(dir)
        .env_remove("SPARKIFY_LOG")
        .env_remove("SPARKIFY_TEST_KILL_AT")
        .env_remove("SPARKIFY_TEST_PAUSE_AT");
    if let Some(step) = kill_at {
        cmd.env("SPARKIFY_TEST_KILL_AT", step);
    }
    cmd
}

/// The day windows the output holds, from its state file.
fn done_until(out: &Path) -> Option<i64> {
    let text = std::fs::read(out.join("_windows.json")).ok()?;
    serde_json::from_slice::<serde_json::Value>(&text).unwrap()["done_until"].as_i64()
}

#[test]
fn a_windowed_run_killed_mid_way_resumes_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let input = dir.join("in");
    copy_dir(&sample(), &input);
    // A user's level changes between day 10 and day 20, across the kills below.
    add_events(
        &input,
        "2018-11-10",
        &[event(99_002, "free", 1_541_851_200_000, 0)],
    );
    add_events(
        &input,
        "2018-11-20",
        &[event(99_002, "paid", 1_542_715_200_000, 0)],
    );
    etl(dir, &input, "whole", &["--window", "day"]);
    let mut truncated_at = BTreeMap::new();
    // Killed before a window is published, after it is, and inside a publish (after the staging
    // folder is flushed; after the exchange, before the previous output is removed).
    for step in [
        "window-0-written",
        "window-12-written",
        "window-12-published",
        "window-20-written",
    ] {
        let out = dir.join("out");
        let _ = std::fs::remove_dir_all(&out);
        let status = windowed(dir, &input, &[], Some(step)).status().unwrap();
        assert_eq!(status.signal(), Some(9), "{step}: not killed");
        let held = done_until(&out);
        truncated_at.insert(step, held);
        if let Some(until) = held {
            // What the output holds is complete: a run over the days it says it holds.
            let s = etl(
                dir,
                &input,
                "partial",
                &["--until", &date_of(until), "--window", "day"],
            );
            assert!(rows(&s, "songplays") > 0);
            assert_same(&dir.join("partial"), &out);
        }
        let status = windowed(dir, &input, &["--resume"], None).status().unwrap();
        assert!(status.success(), "{step}: resume failed");
        assert_same(&dir.join("whole"), &out);
        let leftovers: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".out.") && n != ".out.lock")
            .collect();
        assert!(leftovers.is_empty(), "{step}: {leftovers:?}");
    }
    assert_eq!(
        truncated_at["window-0-written"], None,
        "nothing published yet"
    );
    assert_eq!(
        truncated_at["window-12-written"],
        Some(1_542_067_200_000),
        "12 days"
    );
    assert_eq!(truncated_at["window-12-published"], Some(1_542_153_600_000));
    // Killed inside the publish of window 6 (after the exchange).
    for step in ["synced", "exchanged", "removing"] {
        let out = dir.join("out");
        let _ = std::fs::remove_dir_all(&out);
        // Each publish passes these steps: the first kill is in the first window's publish,
        // which starts the output; a resumed run is then killed in its own first publish.
        let status = windowed(dir, &input, &[], Some(step)).status().unwrap();
        assert_eq!(status.signal(), Some(9), "{step}");
        let status = windowed(dir, &input, &["--resume"], Some(step))
            .status()
            .unwrap();
        assert_eq!(status.signal(), Some(9), "{step} (resumed)");
        let status = windowed(dir, &input, &["--resume"], None).status().unwrap();
        assert!(status.success(), "{step}: resume failed");
        assert_same(&dir.join("whole"), &out);
    }
    // Everything published: a resume does nothing; other flags are refused.
    let s = etl(dir, &input, "out", &["--window", "day", "--resume"]);
    assert_eq!(s["windows"]["done"], 0);
    assert_eq!(s["windows"]["skipped"], 30);
    let refused = sparkify(
        dir,
        &[
            "etl", "--input", "in", "--output", "out", "--window", "week", "--resume",
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--window day"), "{err}");
}

/// The date (`YYYY-MM-DD`) of midnight `ms` (epoch ms), as `--until` takes it.
fn date_of(ms: i64) -> String {
    // Days since the epoch → civil date (H. Hinnant's algorithm).
    let z = ms / 86_400_000 + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
