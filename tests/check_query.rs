//! `sparkify check` and `sparkify query` on a throwaway PostgreSQL holding the sample: checks pass on
//! a good load and fail, naming the check, on broken tables; every analytics query runs and returns
//! the expected first row (figures cross-checked against the raw JSON with Python).

mod common;

use std::path::Path;

use common::pg::TestPg;
use common::{sample, sparkify, sparkify_ok};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A database `db` holding the sample, loaded by `etl`; returns its URL and the run summary file.
fn loaded(pg: &TestPg, cwd: &Path, db: &str) -> (String, std::path::PathBuf) {
    let url = pg.url_for(&rt().block_on(pg.create_database(db)));
    sparkify_ok(cwd, &["create-tables", "--target", &url]);
    let summary = sparkify_ok(
        cwd,
        &[
            "etl",
            "--input",
            sample().to_str().unwrap(),
            "--output",
            &format!("w-{db}"),
            "--target",
            &url,
            "--write",
            "replace",
            "--json",
        ],
    );
    let file = cwd.join(format!("{db}-summary.json"));
    std::fs::write(&file, summary).unwrap();
    (url, file)
}

fn sql(pg: &TestPg, db: &str, statements: &str) {
    rt().block_on(async {
        let client = pg.connect_to(db).await;
        client
            .batch_execute(statements)
            .await
            .unwrap_or_else(|e| panic!("{statements}: {e}"));
    });
}

/// Runs `check` and returns (exit code, stdout, stderr).
fn check(cwd: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    let out = sparkify(cwd, &all);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn checks_pass_on_a_good_load_and_fail_by_name_on_broken_tables() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let (url, summary) = loaded(&pg, cwd, "good");

    let (code, out, _) = check(cwd, &["--target", &url]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("30 checks: 30 passed, 0 failed"), "{out}");
    let (code, out, _) = check(
        cwd,
        &[
            "--target",
            &url,
            "--expect-summary",
            summary.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["passed"], true);
    assert_eq!(report["checks"].as_array().unwrap().len(), 35);

    // A summary that promised another row count.
    let text = std::fs::read_to_string(&summary).unwrap();
    let wrong = cwd.join("wrong.json");
    std::fs::write(&wrong, text.replace("\"rows\":97", "\"rows\":98")).unwrap();
    let (code, out, err) = check(
        cwd,
        &[
            "--target",
            &url,
            "--expect-summary",
            wrong.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        err.contains("check failed: summary_rows users: found 97, expected 98"),
        "{err}"
    );

    // A user referenced by song plays is deleted.
    sql(&pg, "good", "DELETE FROM users WHERE user_id = 49;");
    let (code, out, err) = check(cwd, &["--target", &url]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        err.contains(
            "check failed: orphan songplays.user_id -> users.user_id: found 689, expected 0"
        ),
        "{err}"
    );
    assert!(out.contains("1 failed"), "{out}");

    // A duplicate and a NULL key, in a table whose constraints were dropped.
    let (url2, _) = loaded(&pg, cwd, "broken");
    sql(
        &pg,
        "broken",
        "ALTER TABLE songs DROP CONSTRAINT songs_pkey;
         ALTER TABLE songs ALTER COLUMN song_id DROP NOT NULL;
         INSERT INTO songs SELECT * FROM songs WHERE song_id = 'SOZCTXZ12AB0182364';
         INSERT INTO songs (song_id, title) VALUES (NULL, 'no id');",
    );
    let (code, out, err) = check(cwd, &["--target", &url2, "--json"]);
    assert_eq!(code, Some(1));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let failed: Vec<String> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| format!("{} {} {}", c["check"], c["table"], c["found"]))
        .collect();
    assert_eq!(
        failed,
        vec!["\"null_key\" \"songs\" 1", "\"duplicate_key\" \"songs\" 1"],
        "{err}"
    );

    // A missing table fails its checks and those that follow references to it.
    sql(&pg, "broken", "DROP TABLE time;");
    let (code, out, _) = check(cwd, &["--target", &url2]);
    assert_eq!(code, Some(1));
    assert!(out.contains("FAILED (table time does not exist)"), "{out}");
    let lines = out
        .lines()
        .filter(|l| l.contains("table time does not exist"));
    assert_eq!(lines.count(), 10, "{out}"); // 9 checks of time + the start_time reference
}

#[test]
fn check_usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = check(tmp.path(), &["--target", "mysql://x"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--target must be local, redshift or a postgres:// URL"),
        "{err}"
    );
    let (code, _, err) = check(
        tmp.path(),
        &[
            "--target",
            "postgres://u@localhost:9/d",
            "--expect-summary",
            "missing.json",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("error: cannot use run summary missing.json"),
        "{err}"
    );
}

#[test]
fn every_analytics_query_runs_on_the_sample() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (url, _) = loaded(&pg, tmp.path(), "analytics");
    // (query, first row); the figures agree with a Python count over the raw JSON.
    let expected: [(&str, &[&str]); 8] = [
        ("top_songs", &["Setanta matins", "Elena", "1", "1"]),
        ("top_artists", &["Elena", "1", "1", "1"]),
        (
            "busiest_users",
            &["49", "Chloe", "Cuevas", "paid", "689", "42"],
        ),
        ("free_vs_paid", &["paid", "5591", "22", "82.0", "254.1"]),
        ("plays_by_hour", &["0", "155", "2.3"]),
        ("plays_by_weekday", &["0", "Sunday", "396", "39"]),
        (
            "top_locations",
            &["San Francisco-Oakland-Hayward, CA", "691", "2"],
        ),
        ("users_by_level", &["free", "F", "40"]),
    ];
    let listed = sparkify_ok(tmp.path(), &["query", "--list"]);
    for (name, first) in expected {
        assert!(listed.contains(name), "{listed}");
        let out = sparkify_ok(tmp.path(), &["query", name, "--target", &url, "--json"]);
        let result: serde_json::Value = serde_json::from_str(&out).unwrap();
        let row: Vec<&str> = result["rows"][0]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no rows: {out}"))
            .iter()
            .map(|v| v.as_str().unwrap_or(""))
            .collect();
        assert_eq!(row, first, "{name}");
        let table = sparkify_ok(tmp.path(), &["query", name, "--target", &url]);
        assert!(table.lines().count() >= 4, "{name}: {table}");
    }
    let out = sparkify(tmp.path(), &["query", "nope", "--target", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sparkify query --list"));
}
