//! `etl`/`load`/`create-tables` through the binary into a throwaway PostgreSQL: the warehouse equals
//! the Parquet, reruns change nothing, incremental loads converge on the full load.

mod common;

use std::path::Path;

use common::pg::TestPg;
use common::rows::{batch_rows, fetch, Rows};
use common::{copy_sample, load_json, read_table, sample, sparkify, sparkify_ok};
use sparkify::schema::TABLES;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every table of the database, as sorted rows.
fn warehouse(pg: &TestPg) -> Vec<(String, Rows)> {
    rt().block_on(async {
        let client = pg.connect().await;
        let mut out = Vec::new();
        for t in TABLES {
            out.push((t.name.to_string(), fetch(&client, t.name, t).await));
        }
        out
    })
}

/// Every table of a Parquet output folder, as sorted rows.
fn parquet(dir: &Path) -> Vec<(String, Rows)> {
    TABLES
        .iter()
        .map(|t| (t.name.to_string(), batch_rows(&read_table(dir, t.name), t)))
        .collect()
}

fn etl(cwd: &Path, input: &Path, url: &str, write: &str) -> serde_json::Value {
    load_json(cwd, input, url, write, &[])
}

#[test]
fn full_load_equals_the_parquet_and_reruns_change_nothing() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    sparkify_ok(tmp.path(), &["create-tables", "--target", &pg.url()]);
    sparkify_ok(tmp.path(), &["create-tables", "--target", &pg.url()]); // idempotent

    let s = etl(tmp.path(), &sample(), &pg.url(), "replace");
    let loaded: Vec<(String, u64)> = s["load"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["inserted"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(loaded.contains(&("songplays".into(), 6820)), "{loaded:?}");
    assert!(loaded.contains(&("users".into(), 97)), "{loaded:?}");

    let first = warehouse(&pg);
    assert_eq!(first, parquet(&tmp.path().join("w")));
    let counts: Vec<usize> = first.iter().map(|(_, r)| r.len()).collect();
    assert_eq!(counts, vec![97, 71, 69, 6813, 6820]);

    etl(tmp.path(), &sample(), &pg.url(), "replace");
    assert_eq!(
        warehouse(&pg),
        first,
        "a rerun with replace changes nothing"
    );
    etl(tmp.path(), &sample(), &pg.url(), "merge");
    assert_eq!(warehouse(&pg), first, "a rerun with merge changes nothing");
}

#[test]
fn incremental_days_converge_on_the_full_load() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    copy_sample(&tmp.path().join("early"), |d| d <= 15);
    copy_sample(&tmp.path().join("late"), |d| d > 15);
    let full_db = pg.url();
    let inc_db = pg.url_for(&rt().block_on(pg.create_database("incremental")));
    for url in [&full_db, &inc_db] {
        sparkify_ok(tmp.path(), &["create-tables", "--target", url]);
    }
    etl(tmp.path(), &sample(), &full_db, "replace");
    // Later days first: a user's level must still end at their newest event.
    etl(tmp.path(), &tmp.path().join("late"), &inc_db, "merge");
    etl(tmp.path(), &tmp.path().join("early"), &inc_db, "merge");
    let full = warehouse(&pg);
    let incremental = rt().block_on(async {
        let client = pg.connect_to("incremental").await;
        let mut out = Vec::new();
        for t in TABLES {
            out.push((t.name.to_string(), fetch(&client, t.name, t).await));
        }
        out
    });
    assert_eq!(incremental, full);
}

#[test]
fn load_command_and_failed_load_keep_the_previous_state() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    sparkify_ok(tmp.path(), &["create-tables", "--target", &pg.url()]);
    sparkify_ok(
        tmp.path(),
        &[
            "transform",
            "--input",
            sample().to_str().unwrap(),
            "--output",
            "w",
        ],
    );
    sparkify_ok(
        tmp.path(),
        &[
            "load",
            "--input",
            "w",
            "--target",
            &pg.url(),
            "--write",
            "replace",
        ],
    );
    let before = warehouse(&pg);
    assert_eq!(before, parquet(&tmp.path().join("w")));

    // A corrupt songplays file fails the load after the dimensions were staged: nothing changes.
    std::fs::write(
        tmp.path().join("w/songplays/part-00001.parquet"),
        b"not parquet",
    )
    .unwrap();
    let out = sparkify(
        tmp.path(),
        &[
            "load",
            "--input",
            "w",
            "--target",
            &pg.url(),
            "--write",
            "replace",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("part-00001.parquet") && err.contains("songplays"),
        "{err}"
    );
    assert_eq!(warehouse(&pg), before);
}

#[test]
fn dry_run_prints_statements_and_connects_to_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    // Port 9 on localhost: nothing listens there, and a dry run must not try.
    let url = "postgres://me:s3cret-pw@localhost:9/dwh";
    let out = sparkify_ok(tmp.path(), &["create-tables", "--target", url, "--dry-run"]);
    assert!(
        out.contains("CREATE TABLE IF NOT EXISTS songplays"),
        "{out}"
    );
    assert!(!out.contains("s3cret-pw"));
    let out = sparkify_ok(tmp.path(), &["etl", "--target", url, "--dry-run"]);
    assert!(out.contains("postgres://me:***@localhost:9/dwh"), "{out}");
    assert!(!out.contains("s3cret-pw"));
}

#[test]
fn windowed_loads_equal_the_one_shot_load_and_resume_after_a_kill() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    sparkify_ok(tmp.path(), &["create-tables", "--target", &pg.url()]);
    // Each week is loaded before it is published; the first replaces, the others merge.
    let s = load_json(
        tmp.path(),
        &sample(),
        &pg.url(),
        "replace",
        &["--window", "week"],
    );
    assert_eq!(s["windows"]["done"], 5);
    let loaded = warehouse(&pg);
    assert_eq!(loaded, parquet(&tmp.path().join("w")));
    let counts: Vec<usize> = loaded.iter().map(|(_, r)| r.len()).collect();
    assert_eq!(counts, vec![97, 71, 69, 6813, 6820]);

    // Killed after the third day is written (and before it is loaded), then resumed.
    let kill = std::process::Command::new(env!("CARGO_BIN_EXE_sparkify"))
        .args([
            "etl",
            "--input",
            sample().to_str().unwrap(),
            "--output",
            "w",
        ])
        .args([
            "--target",
            &pg.url(),
            "--write",
            "replace",
            "--window",
            "day",
        ])
        .current_dir(tmp.path())
        .env("SPARKIFY_TEST_KILL_AT", "window-2-written")
        .output()
        .unwrap();
    assert!(!kill.status.success());
    let s = load_json(
        tmp.path(),
        &sample(),
        &pg.url(),
        "replace",
        &["--window", "day", "--resume"],
    );
    assert_eq!(s["windows"]["skipped"], 2);
    assert_eq!(warehouse(&pg), loaded, "resumed: as the uninterrupted load");
}
