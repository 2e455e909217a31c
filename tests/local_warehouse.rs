//! `query` and `check` with no server: DataFusion over the Parquet that `etl` wrote. Every analytics
//! query (and whole tables, for the value formatting) equals PostgreSQL's result on the same run row
//! for row; every check passes on a good output and each kind of damage, planted as Parquet files,
//! fails its check with exit 1; ad-hoc SQL matches a count taken from the raw JSON.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch};
use arrow::datatypes::{Field, Schema};
use common::pg::TestPg;
use common::{copy_dir, read_table, sample, sparkify, sparkify_ok};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `etl` of the sample into `cwd/w` (and into `target` when given); returns the summary file.
fn etl(cwd: &Path, target: Option<&str>) -> PathBuf {
    let input = sample();
    let mut args = vec![
        "etl",
        "--input",
        input.to_str().unwrap(),
        "--output",
        "w",
        "--json",
    ];
    if let Some(url) = target {
        args.extend(["--target", url, "--write", "replace"]);
    }
    let summary = sparkify_ok(cwd, &args);
    let file = cwd.join("summary.json");
    std::fs::write(&file, summary).unwrap();
    file
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Runs `check` in `cwd` with `args`; (exit code, stdout, stderr).
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

/// The failed checks of a `check --json` report, as `kind table column found`.
fn failures(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| {
            let column = c["column"].as_str().unwrap_or("-");
            format!(
                "{} {} {column} {}",
                c["check"].as_str().unwrap(),
                c["table"].as_str().unwrap(),
                c["found"]
            )
        })
        .collect()
}

/// Writes `batch` as one more part file of `table` in `root`.
fn plant(root: &Path, table: &str, batch: &RecordBatch) {
    let path = root.join(table).join("part-09999.parquet");
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// `batch`'s first row with column `name` replaced by `value` (made nullable).
fn first_row_with(batch: &RecordBatch, name: &str, value: ArrayRef) -> RecordBatch {
    let row = batch.slice(0, 1);
    let i = row.schema().index_of(name).unwrap();
    let mut fields: Vec<Field> = row
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[i] = fields[i].clone().with_nullable(true);
    let mut columns = row.columns().to_vec();
    columns[i] = value;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// A copy of the good output `w` in `cwd/name`.
fn copy_of(cwd: &Path, name: &str) -> String {
    copy_dir(&cwd.join("w"), &cwd.join(name));
    name.to_owned()
}

#[test]
fn every_analytics_query_equals_postgresql_row_for_row() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let url = pg.url_for(&rt().block_on(pg.create_database("same")));
    sparkify_ok(cwd, &["create-tables", "--target", &url]);
    etl(cwd, Some(&url));

    let listed = sparkify_ok(cwd, &["query", "--list"]);
    let names: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names.len(), 8, "{listed}");
    for name in names {
        let local = json(&sparkify_ok(
            cwd,
            &["query", name, "--input", "w", "--json"],
        ));
        let server = json(&sparkify_ok(
            cwd,
            &["query", name, "--target", &url, "--json"],
        ));
        assert!(
            !local["rows"].as_array().unwrap().is_empty(),
            "{name}: no rows"
        );
        assert_eq!(local, server, "{name}: local and PostgreSQL differ");
        // The default target is local, in ./warehouse: the same result from a folder of that name.
        let table = sparkify_ok(cwd, &["query", name, "--input", "w"]);
        assert_eq!(
            table,
            sparkify_ok(cwd, &["query", name, "--target", &url]),
            "{name}"
        );
    }

    // Whole tables and literals: every column type prints as PostgreSQL prints it.
    for sql in [
        "SELECT * FROM songplays ORDER BY songplay_id",
        "SELECT * FROM users ORDER BY user_id",
        "SELECT * FROM songs ORDER BY song_id",
        "SELECT * FROM artists ORDER BY artist_id",
        "SELECT * FROM time ORDER BY start_time",
        "SELECT CAST('240' AS DOUBLE PRECISION) AS whole, CAST('0.00001' AS DOUBLE PRECISION) AS tiny, \
         CAST('1e15' AS DOUBLE PRECISION) AS big, CAST('-2.5e-7' AS DOUBLE PRECISION) AS neg, \
         CAST('0.0001' AS DOUBLE PRECISION) AS small, 1.5 * 2 AS exact, TRUE AS yes, FALSE AS no, \
         CAST('2018-11-01 21:01:46.790' AS TIMESTAMP) AS ts, CAST(NULL AS INTEGER) AS nothing",
    ] {
        let local = json(&sparkify_ok(cwd, &["query", "--sql", sql, "--input", "w", "--json"]));
        let server = json(&sparkify_ok(cwd, &["query", "--sql", sql, "--target", &url, "--json"]));
        assert_eq!(local, server, "{sql}");
    }
    let csv = sparkify_ok(
        cwd,
        &[
            "query",
            "--sql",
            "SELECT * FROM artists ORDER BY artist_id",
            "--input",
            "w",
            "--csv",
        ],
    );
    let server_csv = sparkify_ok(
        cwd,
        &[
            "query",
            "--sql",
            "SELECT * FROM artists ORDER BY artist_id",
            "--target",
            &url,
            "--csv",
        ],
    );
    assert_eq!(csv, server_csv);
    assert_eq!(csv.lines().count(), 70, "a header and 69 artists");
}

#[test]
fn checks_pass_on_a_good_output_and_catch_each_planted_fault() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let summary = etl(cwd, None);

    let (code, out, _) = check(cwd, &["--input", "w"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("30 checks: 30 passed, 0 failed"), "{out}");
    let summary = summary.to_str().unwrap();
    let (code, out, _) = check(
        cwd,
        &["--input", "w", "--expect-summary", summary, "--json"],
    );
    assert_eq!(code, Some(0), "{out}");
    let report = json(&out);
    assert_eq!(report["passed"], true);
    assert_eq!(report["checks"].as_array().unwrap().len(), 35);
    let text = std::fs::read_to_string(summary).unwrap();
    std::fs::write(
        cwd.join("wrong.json"),
        text.replace("\"rows\":97", "\"rows\":98"),
    )
    .unwrap();
    let (code, _, err) = check(cwd, &["--input", "w", "--expect-summary", "wrong.json"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("check failed: summary_rows users: found 97, expected 98"),
        "{err}"
    );

    // A song play by a user who is not in `users`.
    let dir = copy_of(cwd, "orphan");
    let plays = read_table(&cwd.join(&dir), "songplays");
    let id: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX]));
    let mut orphan = first_row_with(&plays, "songplay_id", id);
    orphan = first_row_with(&orphan, "user_id", Arc::new(Int32Array::from(vec![99_999])));
    plant(&cwd.join(&dir), "songplays", &orphan);
    let (code, out, err) = check(cwd, &["--input", &dir, "--json"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        failures(&json(&out)),
        ["orphan songplays user_id -> users.user_id 1"]
    );
    assert!(
        err.contains(
            "check failed: orphan songplays.user_id -> users.user_id: found 1, expected 0"
        ),
        "{err}"
    );

    // Every song twice: a second part file holding the same rows.
    let dir = copy_of(cwd, "duplicate");
    let songs = read_table(&cwd.join(&dir), "songs");
    plant(&cwd.join(&dir), "songs", &songs);
    let (code, out, _) = check(cwd, &["--input", &dir, "--json"]);
    assert_eq!(code, Some(1));
    assert_eq!(failures(&json(&out)), ["duplicate_key songs song_id 71"]);

    // A user without an id.
    let dir = copy_of(cwd, "null");
    let users = read_table(&cwd.join(&dir), "users");
    let no_id: ArrayRef = Arc::new(Int32Array::from(vec![None::<i32>]));
    let row = first_row_with(&users, "user_id", no_id);
    assert_eq!(row.column(0).null_count(), 1);
    plant(&cwd.join(&dir), "users", &row);
    let (code, out, _) = check(cwd, &["--input", &dir, "--json"]);
    assert_eq!(code, Some(1));
    assert_eq!(failures(&json(&out)), ["null_key users user_id 1"]);

    // A missing table fails its checks and the reference that leads to it, as on a server.
    let dir = copy_of(cwd, "missing");
    std::fs::remove_dir_all(cwd.join(&dir).join("time")).unwrap();
    let (code, out, _) = check(cwd, &["--input", &dir]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out.matches("FAILED (table time does not exist)").count(),
        10,
        "{out}"
    );
    assert!(out.contains("30 checks: 20 passed, 10 failed"), "{out}");

    // No output at all: every table is missing.
    let (code, out, _) = check(cwd, &["--input", "nowhere"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("30 checks: 0 passed, 30 failed"), "{out}");
}

#[test]
fn query_names_what_is_missing_and_usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    etl(cwd, None);
    let dir = copy_of(cwd, "missing");
    std::fs::remove_dir_all(cwd.join(&dir).join("time")).unwrap();
    let out = sparkify(cwd, &["query", "plays_by_hour", "--input", &dir]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: table time does not exist in missing (no folder missing/time"),
        "{err}"
    );
    // Queries that do not read the missing table still run.
    sparkify_ok(cwd, &["query", "busiest_users", "--input", &dir]);

    // With no --input, `query` reads ./warehouse, which is not there.
    let out = sparkify(cwd, &["query", "busiest_users"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: no star schema in warehouse: the folder does not exist"),
        "{err}"
    );

    for (args, message) in [
        (
            &[
                "query",
                "--sql",
                "SELECT 1; DROP TABLE users",
                "--input",
                "w",
            ][..],
            "one query",
        ),
        (
            &[
                "query",
                "--sql",
                "COPY songs TO '/tmp/out.csv'",
                "--input",
                "w",
            ][..],
            "read-only queries",
        ),
        (
            &["query", "--sql-file", "nope.sql", "--input", "w"][..],
            "cannot read --sql-file nope.sql",
        ),
        (
            &["query", "--sql", "SELECT * FROM nope", "--input", "w"][..],
            "table 'datafusion.public.nope' not found",
        ),
        (
            &[
                "query",
                "busiest_users",
                "--input",
                "w",
                "--target",
                "postgres://u@localhost:9/d",
            ][..],
            "--input names the Parquet folder",
        ),
        (
            &[
                "check",
                "--input",
                "w",
                "--target",
                "postgres://u@localhost:9/d",
            ][..],
            "--input names the Parquet folder",
        ),
    ] {
        let out = sparkify(cwd, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(message),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// NextSong events whose `ts` falls on 2018-11-15 (UTC), counted from the raw JSON lines.
fn next_songs_on_november_15() -> u64 {
    let from = 1_542_240_000_000_i64; // 2018-11-15T00:00:00Z in ms
    let to = from + 86_400_000;
    let mut n = 0;
    for entry in std::fs::read_dir(sample().join("log_data/2018/11")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            let ts = event["ts"].as_i64().unwrap();
            if event["page"] == "NextSong" && (from..to).contains(&ts) {
                n += 1;
            }
        }
    }
    n
}

const DAY_COUNT: &str = "SELECT COUNT(*) AS plays FROM songplays \
     WHERE start_time >= TIMESTAMP '2018-11-15 00:00:00' AND start_time < TIMESTAMP '2018-11-16 00:00:00'";

#[test]
fn sql_on_local_parquet_counts_what_the_json_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    etl(cwd, None);
    let expected = next_songs_on_november_15();
    assert!(expected > 100, "{expected}");

    let out = json(&sparkify_ok(
        cwd,
        &["query", "--sql", DAY_COUNT, "--input", "w", "--json"],
    ));
    assert_eq!(out["sql"], DAY_COUNT);
    assert_eq!(out["columns"], serde_json::json!(["plays"]));
    assert_eq!(out["rows"], serde_json::json!([[expected.to_string()]]));

    std::fs::write(cwd.join("day.sql"), format!("-- one day\n{DAY_COUNT};\n")).unwrap();
    let csv = sparkify_ok(
        cwd,
        &["query", "--sql-file", "day.sql", "--input", "w", "--csv"],
    );
    assert_eq!(csv, format!("plays\n{expected}\n"));
    let table = sparkify_ok(cwd, &["query", "--sql-file", "day.sql", "--input", "w"]);
    assert_eq!(
        table.lines().last().unwrap().trim(),
        expected.to_string(),
        "{table}"
    );
}

#[test]
fn sql_on_postgresql_runs_read_only() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let url = pg.url_for(&rt().block_on(pg.create_database("ro")));
    sparkify_ok(cwd, &["create-tables", "--target", &url]);
    etl(cwd, Some(&url));
    let expected = next_songs_on_november_15();
    let out = json(&sparkify_ok(
        cwd,
        &["query", "--sql", DAY_COUNT, "--target", &url, "--json"],
    ));
    assert_eq!(out["rows"], serde_json::json!([[expected.to_string()]]));

    // A writing CTE passes the first-word check; the read-only transaction refuses it.
    let sql = "WITH gone AS (DELETE FROM users RETURNING 1) SELECT COUNT(*) FROM gone";
    let run = sparkify(cwd, &["query", "--sql", sql, "--target", &url]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("read-only transaction"), "{err}");
    let users = json(&sparkify_ok(
        cwd,
        &[
            "query",
            "--sql",
            "SELECT COUNT(*) AS n FROM users",
            "--target",
            &url,
            "--json",
        ],
    ));
    assert_eq!(users["rows"], serde_json::json!([["97"]]));
}
