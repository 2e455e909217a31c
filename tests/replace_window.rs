//! `--write replace-window` into a throwaway PostgreSQL: rerunning one corrected day (one-shot
//! with `--since/--until`, windowed with `--window day`, and `load` of a whole corrected folder)
//! leaves the warehouse equal, row for row, to a fresh full load of the corrected input; rows
//! outside the range are untouched; refused uses exit 2 and change nothing. On the emulated
//! Redshift (`common/emulation/`), the real plan issues the golden statements
//! (`tests/golden/redshift/flow/replace_window.sql`), ends equal to the PostgreSQL target's fresh
//! load, and a failure at any statement leaves the previous tables.

mod common;

use std::path::Path;

use common::emulation::harness::{
    assert_same, fail_at_each_step, pg_client, postgres_load, publish, tables, target, World,
};
use common::pg::TestPg;
use common::rows::{fetch, Rows, V};
use common::{
    assert_golden, correct_day, load_json, sample, sparkify, sparkify_ok, CORRECTED_DAY,
    CORRECTED_DAY_MS,
};
use sparkify::schema::TABLES;
use sparkify::warehouse::redshift::{execute, load_run, plan_ddl};
use sparkify::warehouse::sql::StartRange;
use sparkify::warehouse::WriteMode;

type Tables = Vec<(String, Rows)>;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every table of the database at `url`, as sorted rows.
fn warehouse(pg: &TestPg, db: &str) -> Tables {
    rt().block_on(async {
        let client = pg.connect_to(db).await;
        let mut out = Vec::new();
        for t in TABLES {
            out.push((t.name.to_string(), fetch(&client, t.name, t).await));
        }
        out
    })
}

fn counts(tables: &Tables) -> Vec<(&str, usize)> {
    tables.iter().map(|(t, r)| (t.as_str(), r.len())).collect()
}

/// Asserts `actual` equals `expected` table by table, and prints the row counts compared.
fn assert_tables(actual: &Tables, expected: &Tables, what: &str) {
    for ((name, a), (_, e)) in actual.iter().zip(expected) {
        assert!(
            a == e,
            "{what}: table {name}: {} rows, expected {}; first difference {:?}",
            a.len(),
            e.len(),
            a.iter().zip(e).find(|(x, y)| x != y)
        );
    }
    eprintln!(
        "{what}: equal to the fresh full load, row for row: {:?}",
        counts(actual)
    );
}

/// Whether a songplays or time row (start_time is column 1 of songplays, 0 of time) lies in the
/// corrected day.
fn in_day(table: &str, row: &[V]) -> bool {
    let at = usize::from(table == "songplays");
    let (since, until) = CORRECTED_DAY_MS;
    matches!(row[at], V::Ts(us) if (since * 1000..until * 1000).contains(&us))
}

/// The rows of the event tables outside the corrected day.
fn outside_day(tables: &Tables) -> Vec<(String, Rows)> {
    tables
        .iter()
        .filter(|(t, _)| t == "songplays" || t == "time")
        .map(|(t, rows)| {
            let kept = rows.iter().filter(|r| !in_day(t, r)).cloned().collect();
            (t.clone(), kept)
        })
        .collect()
}

/// A database with the star-schema tables; its URL.
fn database(pg: &TestPg, db: &str) -> String {
    rt().block_on(pg.create_database(db));
    let url = pg.url_for(db);
    let tmp = tempfile::tempdir().unwrap();
    sparkify_ok(tmp.path(), &["create-tables", "--target", &url]);
    url
}

/// `etl --write replace` of `input` into `url`.
fn full_load(url: &str, input: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    load_json(tmp.path(), input, url, "replace", &[]);
}

/// The songplays counts (deleted, inserted) of a load summary.
fn songplays_load(summary: &serde_json::Value) -> (u64, u64) {
    let t = summary["load"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "songplays")
        .unwrap();
    (
        t["deleted"].as_u64().unwrap(),
        t["inserted"].as_u64().unwrap(),
    )
}

#[test]
fn a_corrected_day_replaced_by_range_equals_a_fresh_full_load() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let corrected = tmp.path().join("corrected");
    let fixes = correct_day(&corrected, false);
    eprintln!("corrections of {}: {fixes:?}", CORRECTED_DAY.0);

    let fresh = database(&pg, "fresh");
    full_load(&fresh, &corrected);
    let expected = warehouse(&pg, "fresh");

    let url = database(&pg, "dwh");
    full_load(&url, &sample());
    let original = warehouse(&pg, "dwh");
    assert_eq!(
        counts(&original),
        [
            ("users", 97),
            ("songs", 71),
            ("artists", 69),
            ("time", 6813),
            ("songplays", 6820)
        ]
    );
    for t in ["users", "time", "songplays"] {
        let (o, e) = (&original, &expected);
        let differs = o.iter().zip(e).any(|((n, a), (_, b))| n == t && a != b);
        assert!(differs, "the correction must change {t}");
    }
    let day_plays = |tables: &Tables| {
        tables[4]
            .1
            .iter()
            .filter(|r| in_day("songplays", r))
            .count()
    };

    // One-shot: --since D --until D+1.
    let (since, until) = CORRECTED_DAY;
    let range = ["--since", since, "--until", until];
    let s = load_json(tmp.path(), &corrected, &url, "replace-window", &range);
    assert_eq!(s["load"]["mode"], "replace-window");
    let (deleted, inserted) = songplays_load(&s);
    assert_eq!(deleted as usize, day_plays(&original));
    assert_eq!(inserted as usize, day_plays(&expected));
    eprintln!("one-shot: songplays of {since}: {deleted} deleted, {inserted} inserted");
    assert_tables(&warehouse(&pg, "dwh"), &expected, "--since/--until");

    // Rerunning it changes nothing.
    load_json(tmp.path(), &corrected, &url, "replace-window", &range);
    assert_tables(&warehouse(&pg, "dwh"), &expected, "rerun");

    // Windowed: a day at a time over three days, the middle one corrected.
    full_load(&url, &sample());
    assert_eq!(warehouse(&pg, "dwh"), original);
    let windowed = [
        "--window",
        "day",
        "--since",
        "2018-11-14",
        "--until",
        "2018-11-17",
    ];
    let out = sparkify_ok(
        tmp.path(),
        &[
            &[
                "etl",
                "--input",
                corrected.to_str().unwrap(),
                "--output",
                "w",
            ],
            &["--target", &url, "--write", "replace-window", "--dry-run"][..],
            &windowed,
        ]
        .concat(),
    );
    for expected in [
        "DELETE FROM songplays\nWHERE start_time >= TIMESTAMP '2018-11-14 00:00:00.000'\n  AND start_time < TIMESTAMP '2018-11-15 00:00:00.000';",
        "-- then the same load, in its own transaction, for [2018-11-15, 2018-11-16)\n",
        "-- then the same load, in its own transaction, for [2018-11-16, 2018-11-17)\n",
    ] {
        assert!(out.contains(expected), "{expected} in\n{out}");
    }
    assert_eq!(warehouse(&pg, "dwh"), original, "a dry run changes nothing");
    let s = load_json(tmp.path(), &corrected, &url, "replace-window", &windowed);
    assert_eq!(s["windows"]["done"], 3);
    assert_tables(&warehouse(&pg, "dwh"), &expected, "--window day");
}

#[test]
fn rows_outside_the_range_are_untouched_and_load_replaces_only_the_range() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let corrected = tmp.path().join("corrected");
    correct_day(&corrected, false);
    let fresh = database(&pg, "fresh");
    full_load(&fresh, &corrected);
    let expected = warehouse(&pg, "fresh");

    let url = database(&pg, "dwh");
    full_load(&url, &sample());
    let original = warehouse(&pg, "dwh");

    // An input holding only the corrected day: the other days' rows stay as they were.
    let only_day = tmp.path().join("only_day");
    correct_day(&only_day, true);
    let (since, until) = CORRECTED_DAY;
    load_json(
        tmp.path(),
        &only_day,
        &url,
        "replace-window",
        &["--since", since, "--until", until],
    );
    let after = warehouse(&pg, "dwh");
    let kept = outside_day(&after);
    assert_eq!(kept, outside_day(&original));
    eprintln!(
        "outside {since}: {:?} rows untouched",
        kept.iter().map(|(t, r)| (t, r.len())).collect::<Vec<_>>()
    );
    assert_tables(&after, &expected, "input of the corrected day only");

    // `load` of a whole corrected folder (all 30 days) replaces only the range.
    full_load(&url, &sample());
    sparkify_ok(
        tmp.path(),
        &[
            "transform",
            "--input",
            corrected.to_str().unwrap(),
            "--output",
            "wc",
            "-q",
        ],
    );
    let args = [
        "load",
        "--input",
        "wc",
        "--target",
        &url,
        "--write",
        "replace-window",
        "--since",
        since,
        "--until",
        until,
        "--json",
    ];
    let s: serde_json::Value = serde_json::from_str(&sparkify_ok(tmp.path(), &args)).unwrap();
    let plays = s["tables"].as_array().unwrap();
    let plays = plays.iter().find(|t| t["name"] == "songplays").unwrap();
    let day_plays = expected[4]
        .1
        .iter()
        .filter(|r| in_day("songplays", r))
        .count();
    assert_eq!(
        plays["staged"].as_u64().unwrap() as usize,
        expected[4].1.len()
    );
    assert_eq!(plays["inserted"].as_u64().unwrap() as usize, day_plays);
    assert_tables(
        &warehouse(&pg, "dwh"),
        &expected,
        "load of the whole folder",
    );
}

#[test]
fn refused_replace_windows_exit_2_and_change_nothing() {
    let Some(pg) = TestPg::start() else { return };
    let url = database(&pg, "dwh");
    full_load(&url, &sample());
    let before = warehouse(&pg, "dwh");
    let input = sample();
    let input = input.to_str().unwrap();
    let etl = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["etl", "--input", input, "--output", "w"]
            .map(String::from)
            .to_vec();
        v.extend(["--write", "replace-window"].map(String::from));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let day = ["--since", "2018-11-15", "--until", "2018-11-16"];
    let cases: Vec<(Vec<String>, &str)> = vec![
        (etl(&["--target", &url]), "needs the range it replaces"),
        (
            etl(&["--target", &url, "--since", "2018-11-15"]),
            "needs the range it replaces",
        ),
        (etl(&day), "local Parquet output"),
        (
            etl(&[&["--target", &url, "--mode", "elt"][..], &day].concat()),
            "--mode elt",
        ),
        (
            [
                "load",
                "--input",
                "w",
                "--target",
                &url,
                "--write",
                "replace-window",
            ]
            .map(String::from)
            .to_vec(),
            "needs a bounded range",
        ),
        (
            [
                &["load", "--input", "w", "--target", &url, "--write", "merge"][..],
                &day,
            ]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect(),
            "name the range --write replace-window replaces",
        ),
        (
            [&["load", "--write", "replace-window"][..], &day]
                .concat()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            "local Parquet output",
        ),
    ];
    for (args, says) in cases {
        let cwd = tempfile::tempdir().unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = sparkify(cwd.path(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!cwd.path().join("w").exists(), "{args:?} wrote an output");
        eprintln!("refused, exit 2: {}", stderr.trim());
    }
    assert_eq!(warehouse(&pg, "dwh"), before);
}

/// `transform` of `input` (with `extra` flags) into `<dir>/<name>`; the folder.
fn transform(dir: &Path, input: &Path, name: &str, extra: &[&str]) -> std::path::PathBuf {
    let input = input.to_str().unwrap();
    let args = [
        &["transform", "--input", input, "--output", name, "-q"][..],
        extra,
    ]
    .concat();
    sparkify_ok(dir, &args);
    dir.join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redshift_replace_window_issues_the_golden_statements_and_equals_the_postgresql_target() {
    let Some(world) = World::start().await else {
        return;
    };
    world.database("rs").await;
    let reference = world.reference("reference").await;
    let target = target(None);
    let tmp = tempfile::tempdir().unwrap();
    let corrected = tmp.path().join("corrected");
    correct_day(&corrected, false);
    let (since, until) = CORRECTED_DAY;
    let full = transform(tmp.path(), &sample(), "full", &[]);
    let day = transform(
        tmp.path(),
        &corrected,
        "day",
        &["--since", since, "--until", until],
    );
    let full_run = publish(&world, &target, &full, "run-full").await;
    let day_run = publish(&world, &target, &day, "run-day").await;
    let range = StartRange::new(CORRECTED_DAY_MS.0, CORRECTED_DAY_MS.1).unwrap();
    let mode = WriteMode::ReplaceWindow(range);

    let mut emu = world.redshift("rs").await;
    execute(&mut emu, &plan_ddl(&target.sql(), true))
        .await
        .unwrap();
    load_run(&mut emu, &target, &full_run, WriteMode::Replace)
        .await
        .unwrap();
    let before = tables(emu.reader(), None).await;
    let issued_from = emu.log.len();
    let loaded = load_run(&mut emu, &target, &day_run, mode).await.unwrap();
    assert_golden(
        "redshift/flow/replace_window.sql",
        &emu.log[issued_from..]
            .iter()
            .map(|s| format!("{}\n", s.trim_end()))
            .collect::<String>(),
    );

    // The PostgreSQL target's fresh full load of the corrected input.
    postgres_load(&reference, &corrected, "replace", &[]);
    assert_same(
        &emu,
        None,
        &reference,
        "Redshift replace-window of a corrected day",
    )
    .await;
    let after = tables(&pg_client(&reference).await, None).await;
    let in_day = |t: &Vec<(String, Rows)>| t[4].1.iter().filter(|r| in_day("songplays", r)).count();
    let plays = loaded.report.table("songplays").unwrap();
    assert_eq!(plays.deleted as usize, in_day(&before));
    assert_eq!(plays.inserted as usize, in_day(&after));
    eprintln!(
        "Redshift songplays of {since}: {} deleted, {} inserted",
        plays.deleted, plays.inserted
    );

    // A failure at any statement leaves the full load of the original input.
    let failed = fail_at_each_step(
        &world,
        "rs",
        None,
        (&before, &after),
        "Redshift replace-window",
        |mut emu| {
            let (target, run) = (target.clone(), day_run.clone());
            async move {
                let ok = load_run(&mut emu, &target, &run, mode).await.is_ok();
                (emu, ok)
            }
        },
        |mut emu| {
            let (target, run) = (target.clone(), full_run.clone());
            async move {
                load_run(&mut emu, &target, &run, WriteMode::Replace)
                    .await
                    .unwrap();
                emu
            }
        },
    )
    .await;
    assert!(failed >= 10, "only {failed} failures failed the run");
}
