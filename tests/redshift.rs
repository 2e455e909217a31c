//! The Redshift target, driven against a recording fake of a Redshift session
//! (`common/redshift.rs`) and the in-process S3 server: the exact statements (golden files under
//! `tests/golden/redshift/flow/`), what the tables hold after merge and replace loads, manifests,
//! failures that must leave the tables alone, literal validation and the TLS policy. Nothing here
//! talks to anything but 127.0.0.1 servers the tests start.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::Client;
use common::redshift::FakeRedshift;
use common::rows::{batch_rows, Rows};
use common::s3::{TestS3, REGION};
use common::{copy_sample, read_table, sample, sparkify_ok};
use sparkify::config::Config;
use sparkify::s3::{s3_client, S3Settings, StaticCredentials};
use sparkify::schema::TABLES;
use sparkify::sink::s3::{publish_to_s3_with, read_latest, read_manifest, PublishOptions};
use sparkify::warehouse::postgres::{CertCheck, ChannelBinding, PgError, RootCerts, Transport};
use sparkify::warehouse::redshift::{
    execute, load_latest, parquet_rows, plan_ddl, publish_and_load, RedshiftError, RedshiftTarget,
};
use sparkify::warehouse::WriteMode;
use tempfile::TempDir;

const HOST: &str = "example-cluster.abc123xyz789.us-west-2.redshift.amazonaws.com";
const ARN: &str = "arn:aws:iam::123456789012:role/sparkify-redshift";
const PASSWORD: &str = "Sup3r-s3cret-pw";

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// `dwh.cfg` text: the defaults below with `changes` applied ((section, key, None) removes a key).
fn config_text(changes: &[(&str, &str, Option<&str>)]) -> String {
    let mut values: Vec<(String, String, String)> = [
        ("CLUSTER", "HOST", HOST),
        ("CLUSTER", "DB_NAME", "dev"),
        ("CLUSTER", "DB_USER", "awsuser"),
        ("CLUSTER", "DB_PASSWORD", PASSWORD),
        ("CLUSTER", "DB_PORT", "5439"),
        ("IAM_ROLE", "ARN", ARN),
        ("S3", "STAGING", "s3://staging/dwh"),
    ]
    .iter()
    .map(|(s, k, v)| (s.to_string(), k.to_string(), v.to_string()))
    .collect();
    for (section, key, value) in changes {
        values.retain(|(s, k, _)| !(s == section && k == key));
        if let Some(v) = value {
            values.push((section.to_string(), key.to_string(), v.to_string()));
        }
    }
    let mut text = String::new();
    for section in ["CLUSTER", "IAM_ROLE", "S3"] {
        text.push_str(&format!("[{section}]\n"));
        for (_, k, v) in values.iter().filter(|(s, _, _)| s == section) {
            text.push_str(&format!("{k}={v}\n"));
        }
    }
    text
}

fn config(changes: &[(&str, &str, Option<&str>)]) -> Config {
    let cfg = Config::parse(Path::new("dwh.cfg"), &config_text(changes)).unwrap();
    for (section, key, value) in changes {
        assert_eq!(cfg.get(section, key).as_deref(), *value, "{section} {key}");
    }
    cfg
}

fn target() -> RedshiftTarget {
    RedshiftTarget::from_config(&config(&[]), false).unwrap()
}

async fn client(s3: &TestS3) -> Client {
    s3_client(&S3Settings {
        region: Some(REGION.to_string()),
        endpoint_url: Some(s3.endpoint.clone()),
        credentials: Some(StaticCredentials::new(&s3.access_key, &s3.secret_key)),
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        ..S3Settings::default()
    })
    .await
}

/// An S3 server with an empty `staging` bucket, a client for it and a fake session with the
/// star-schema tables created.
async fn setup() -> (TestS3, Client, FakeRedshift) {
    let s3 = TestS3::start();
    s3.create_bucket("staging");
    let client = client(&s3).await;
    let mut rs = FakeRedshift::new(s3.root.path());
    execute(&mut rs, &plan_ddl(&target().sql(), true))
        .await
        .unwrap();
    rs.log.clear();
    (s3, client, rs)
}

/// `sparkify transform` of the sample's log days for which `days` holds, into `<tmp>/w`.
fn transform(days: impl Fn(u32) -> bool, extra: &[&str]) -> TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_sample(&tmp.path().join("in"), days);
    let mut args = vec!["transform", "--input", "in", "--output", "w", "-q"];
    args.extend(extra);
    sparkify_ok(tmp.path(), &args);
    tmp
}

fn w(tmp: &TempDir) -> PathBuf {
    tmp.path().join("w")
}

/// Every table of a Parquet folder, as sorted rows.
fn parquet_tables(dir: &Path) -> BTreeMap<String, Rows> {
    TABLES
        .iter()
        .map(|t| (t.name.to_string(), batch_rows(&read_table(dir, t.name), t)))
        .collect()
}

async fn load(
    rs: &mut FakeRedshift,
    client: &Client,
    dir: &Path,
    run_id: &str,
    mode: WriteMode,
) -> Result<sparkify::warehouse::redshift::LoadedRun, RedshiftError> {
    let rows = parquet_rows(dir).unwrap();
    publish_and_load(rs, client, &target(), dir, run_id, rows, mode).await
}

/// Compares `actual` with `tests/golden/redshift/flow/<name>`; `UPDATE_GOLDEN=1` rewrites it.
fn assert_golden(name: &str, actual: &str) {
    common::assert_golden(&format!("redshift/flow/{name}"), actual);
}

// ---------------------------------------------------------------------------------------------
// Whole flows
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_tables_issues_the_golden_statements_and_is_idempotent() {
    let s3 = TestS3::start();
    let mut rs = FakeRedshift::new(s3.root.path());
    let plan = plan_ddl(&target().sql(), true);
    execute(&mut rs, &plan).await.unwrap();
    assert_golden("create.sql", &rs.script());
    execute(&mut rs, &plan).await.unwrap();
    assert_eq!(rs.all_tables().len(), 5);
    rs.log.clear();
    execute(&mut rs, &plan_ddl(&target().sql(), false))
        .await
        .unwrap();
    assert_golden("drop.sql", &rs.script());
    assert!(rs.all_tables().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_issues_the_golden_statements_and_reruns_change_nothing() {
    let (_s3, client, mut rs) = setup().await;
    let full = transform(|_| true, &[]);
    let expected = parquet_tables(&w(&full));
    let rows = parquet_rows(&w(&full)).unwrap();
    assert_eq!(rows["songplays"], 6820);
    assert_eq!(rows["users"], 97);

    let run = load(&mut rs, &client, &w(&full), "run-1", WriteMode::Merge)
        .await
        .unwrap();
    assert_golden("merge.sql", &rs.script());
    assert_eq!(rs.all_tables(), expected);
    assert_eq!(run.run_id, "run-1");
    assert_eq!(run.run_url, "s3://staging/dwh/runs/run-1/");
    for t in &run.report.tables {
        assert_eq!(t.staged, rows[t.table], "{}", t.table);
        assert_eq!((t.deleted, t.inserted), (0, rows[t.table]), "{}", t.table);
    }

    // The same data again, as a new run: every row is replaced by itself.
    let again = load(&mut rs, &client, &w(&full), "run-2", WriteMode::Merge)
        .await
        .unwrap();
    assert_eq!(rs.all_tables(), expected);
    for t in &again.report.tables {
        assert_eq!((t.deleted, t.inserted), (rows[t.table], rows[t.table]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_issues_the_golden_statements_and_leaves_exactly_the_run() {
    let (s3, client, mut rs) = setup().await;
    let full = transform(|_| true, &[]);
    let few = transform(|d| d <= 3, &[]);

    let run = load(&mut rs, &client, &w(&full), "run-1", WriteMode::Replace)
        .await
        .unwrap();
    assert_golden("replace.sql", &rs.script());
    assert_eq!(rs.all_tables(), parquet_tables(&w(&full)));
    assert!(run.report.tables.iter().all(|t| t.staged == t.inserted));

    // A replace keeps nothing of the previous load.
    let expected = parquet_tables(&w(&few));
    let run = load(&mut rs, &client, &w(&few), "run-2", WriteMode::Replace)
        .await
        .unwrap();
    assert_eq!(rs.all_tables(), expected);
    let songplays = run.report.table("songplays").unwrap();
    assert_eq!(songplays.deleted, 6820);
    assert_eq!(songplays.inserted, expected["songplays"].len() as u64);

    // Reloading what _latest names changes nothing.
    let again = load_latest(&mut rs, &client, &target(), WriteMode::Replace)
        .await
        .unwrap();
    assert_eq!(again.run_id, "run-2");
    assert_eq!(rs.all_tables(), expected);
    drop(s3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_merges_in_any_order_converge_on_the_full_load() {
    let s3 = TestS3::start();
    s3.create_bucket("staging");
    let client = client(&s3).await;
    let full = parquet_tables(&w(&transform(|_| true, &[])));
    let first = transform(|d| d <= 15, &[]);
    let second = transform(|d| d > 15, &[]);
    for (n, order) in [[&first, &second], [&second, &first]].iter().enumerate() {
        let mut rs = FakeRedshift::new(s3.root.path());
        execute(&mut rs, &plan_ddl(&target().sql(), true))
            .await
            .unwrap();
        for (i, part) in order.iter().enumerate() {
            load(
                &mut rs,
                &client,
                &w(part),
                &format!("order{n}-{i}"),
                WriteMode::Merge,
            )
            .await
            .unwrap();
        }
        assert_eq!(rs.all_tables(), full, "order {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manifest_lists_exactly_the_runs_files_with_their_sizes() {
    let (s3, client, mut rs) = setup().await;
    // Small parts, so that songplays and time span several files.
    let tmp = transform(|_| true, &["--rows-per-file", "1000"]);
    let dir = w(&tmp);
    load(&mut rs, &client, &dir, "run-1", WriteMode::Merge)
        .await
        .unwrap();
    assert_eq!(rs.all_tables(), parquet_tables(&dir));

    let target = target();
    let latest = read_latest(&client, &target.staging)
        .await
        .unwrap()
        .unwrap();
    let rows = parquet_rows(&dir).unwrap();
    let keys = s3.keys("staging");
    for table in TABLES {
        let entry = latest.table(table.name).unwrap();
        assert_eq!(entry.rows, Some(rows[table.name]));
        let url = format!("s3://staging/dwh/runs/run-1/{}.manifest", table.name);
        assert_eq!(entry.manifest_url, url);

        // The manifest, read through the S3 API.
        let manifest = read_manifest(&client, "staging", &entry.manifest_key)
            .await
            .unwrap();
        let listed: Vec<(String, u64)> = manifest
            .entries
            .iter()
            .map(|e| {
                assert!(e.mandatory);
                (e.url.clone(), e.meta.content_length)
            })
            .collect();

        // Exactly the objects under the run's table prefix, which are exactly the local files.
        let prefix = format!("dwh/runs/run-1/{}/", table.name);
        let objects: Vec<(String, u64)> = keys
            .iter()
            .filter(|k| k.starts_with(&prefix))
            .map(|k| {
                let bytes = s3.get("staging", k).unwrap();
                let local = dir.join(table.name).join(k.rsplit('/').next().unwrap());
                assert_eq!(std::fs::read(local).unwrap(), bytes, "{k}");
                (format!("s3://staging/{k}"), bytes.len() as u64)
            })
            .collect();
        let local_files = std::fs::read_dir(dir.join(table.name)).unwrap().count();
        assert_eq!(objects.len(), local_files, "{}", table.name);
        assert_eq!(listed, objects, "{}", table.name);
        assert_eq!(entry.files, objects.len());
        if ["songplays", "time"].contains(&table.name) {
            assert!(objects.len() > 1, "{}: {objects:?}", table.name);
        }

        // And the COPY read that manifest, into this table's stage.
        let copy = rs
            .log
            .iter()
            .find(|s| s.starts_with(&format!("COPY stage_{} (", table.name)))
            .unwrap();
        assert!(copy.contains(&format!("FROM '{url}'\n")), "{copy}");
    }
}

// ---------------------------------------------------------------------------------------------
// Failures leave the tables as they were
// ---------------------------------------------------------------------------------------------

fn load_error_row() -> Vec<Option<String>> {
    [
        "s3://staging/dwh/runs/run-2/artists/part-00000.parquet",
        "1",
        "name",
        "varchar",
        "1204",
        "String length exceeds DDL length",
    ]
    .iter()
    .map(|v| Some(v.to_string()))
    .collect()
}

/// The position of the first statement starting with `prefix`.
fn position(log: &[String], prefix: &str) -> usize {
    log.iter()
        .position(|s| s.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in {log:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_copy_rolls_back_first_then_reports_the_load_errors() {
    let (_s3, client, mut rs) = setup().await;
    let full = transform(|_| true, &[]);
    let few = transform(|d| d <= 3, &[]);
    load(&mut rs, &client, &w(&full), "run-1", WriteMode::Merge)
        .await
        .unwrap();
    let before = rs.all_tables();

    // Replace: the COPY runs inside the transaction.
    rs.fail_copy = Some("artists".into());
    rs.load_errors = vec![load_error_row()];
    rs.log.clear();
    let e = load(&mut rs, &client, &w(&few), "run-2", WriteMode::Replace)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            RedshiftError::Copy {
                table: "artists",
                ..
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    for part in [
        "COPY into artists from s3://staging/dwh/runs/run-2/artists.manifest failed",
        "Load into table 'artists' failed",
        "s3://staging/dwh/runs/run-2/artists/part-00000.parquet, line 1, column name (varchar)",
        "String length exceeds DDL length (code 1204)",
        "the tables were left as they were",
    ] {
        assert!(msg.contains(part), "{part:?} not in {msg}");
    }
    let copy = position(&rs.log, "COPY artists");
    assert_eq!(rs.log[copy + 1], "ROLLBACK;");
    assert!(rs.log[copy + 2].contains("FROM sys_load_error_detail"));
    assert_eq!(rs.log.len(), copy + 3, "{:#?}", rs.log);
    assert_eq!(rs.all_tables(), before);

    // Without sys_load_error_detail, stl_load_errors answers.
    rs.has_sys_view = false;
    rs.log.clear();
    let e = load(&mut rs, &client, &w(&few), "run-3", WriteMode::Replace)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("String length exceeds DDL length"),
        "{e}"
    );
    assert!(rs.log.last().unwrap().contains("FROM stl_load_errors"));
    assert_eq!(rs.all_tables(), before);

    // Merge: the COPY into the stage runs before the transaction, which never starts.
    rs.fail_copy = Some("stage_songs".into());
    rs.has_sys_view = true;
    rs.load_errors.clear();
    rs.log.clear();
    let e = load(&mut rs, &client, &w(&few), "run-4", WriteMode::Merge)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("hold no rows for this COPY"), "{e}");
    assert!(!rs.log.iter().any(|s| s == "BEGIN;" || s == "ROLLBACK;"));
    // The stages created so far are dropped: users, the first, and songs, whose COPY failed.
    let copy = position(&rs.log, "COPY stage_songs");
    assert!(rs.log[copy + 1].contains("FROM sys_load_error_detail"));
    assert!(rs.log[copy + 2].contains("FROM stl_load_errors"));
    assert!(rs.log[copy + 3].contains("FROM svl_s3log"));
    assert!(rs.log[copy + 4].contains("FROM sys_external_query_error"));
    assert_eq!(
        rs.log[copy + 5..],
        ["DROP TABLE stage_users;\n", "DROP TABLE stage_songs;\n"]
    );
    assert_eq!(rs.all_tables(), before);
    // The session can load again.
    rs.fail_copy = None;
    load(&mut rs, &client, &w(&few), "run-5", WriteMode::Merge)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_during_commit_is_an_unknown_outcome_that_a_rerun_converges() {
    let (_s3, client, mut rs) = setup().await;
    let full = transform(|_| true, &[]);
    load(&mut rs, &client, &w(&full), "run-0", WriteMode::Replace)
        .await
        .unwrap();
    let expected = rs.all_tables();
    for committed in [true, false] {
        execute(&mut rs, &plan_ddl(&target().sql(), false))
            .await
            .unwrap();
        execute(&mut rs, &plan_ddl(&target().sql(), true))
            .await
            .unwrap();
        rs.lose_commit = Some(committed);
        rs.log.clear();
        let e = load(
            &mut rs,
            &client,
            &w(&full),
            &format!("run-{committed}"),
            WriteMode::Merge,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, RedshiftError::CommitUnknown { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("outcome is unknown; rerun to converge"),
            "{msg}"
        );
        assert!(!msg.contains("nothing was changed"), "{msg}");
        // No ROLLBACK is sent after a COMMIT whose outcome is unknown.
        assert!(!rs.log.iter().any(|s| s == "ROLLBACK;"), "{:#?}", rs.log);
        assert_eq!(rs.all_tables() == expected, committed);
        load(
            &mut rs,
            &client,
            &w(&full),
            &format!("rerun-{committed}"),
            WriteMode::Merge,
        )
        .await
        .unwrap();
        assert_eq!(rs.all_tables(), expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_copy_is_caught_by_the_row_count() {
    let (_s3, client, mut rs) = setup().await;
    let full = transform(|_| true, &[]);
    let rows = parquet_rows(&w(&full)).unwrap();
    load(&mut rs, &client, &w(&full), "run-1", WriteMode::Merge)
        .await
        .unwrap();
    let before = rs.all_tables();

    for (mode, into, run) in [
        (WriteMode::Replace, "time", "run-2"),
        (WriteMode::Merge, "stage_time", "run-3"),
    ] {
        rs.short_copy = Some(into.into());
        rs.log.clear();
        let e = load(&mut rs, &client, &w(&full), run, mode)
            .await
            .unwrap_err();
        match &e {
            RedshiftError::RowCount {
                table: "time",
                written,
                loaded,
                manifest,
            } => {
                assert_eq!(*written, rows["time"]);
                assert_eq!(*loaded, rows["time"] as i64 - 1);
                assert_eq!(
                    manifest,
                    &format!("s3://staging/dwh/runs/{run}/time.manifest")
                );
            }
            other => panic!("{other}"),
        }
        // The check follows the COPY at once; then a replace rolls back, a merge (which has not
        // begun its transaction) drops the stages it created.
        let copy = position(&rs.log, &format!("COPY {into} ("));
        assert_eq!(rs.log[copy + 1], "SELECT pg_last_copy_count();\n");
        let after: Vec<&str> = rs.log[copy + 2..].iter().map(String::as_str).collect();
        match mode {
            WriteMode::Replace => assert_eq!(after, ["ROLLBACK;"]),
            WriteMode::Merge | WriteMode::ReplaceWindow(_) => {
                assert!(!rs.log.iter().any(|s| s == "BEGIN;"));
                assert_eq!(
                    after,
                    [
                        "DROP TABLE stage_users;\n",
                        "DROP TABLE stage_songs;\n",
                        "DROP TABLE stage_artists;\n",
                        "DROP TABLE stage_time;\n"
                    ]
                );
            }
        }
        assert_eq!(rs.all_tables(), before, "{mode}");
    }
}

// ---------------------------------------------------------------------------------------------
// What reaches a statement
// ---------------------------------------------------------------------------------------------

/// Publishes `dir` as `run_id` without loading it.
async fn publish(client: &Client, dir: &Path, run_id: &str) {
    let options = PublishOptions {
        rows: parquet_rows(dir).unwrap(),
        ..PublishOptions::default()
    };
    publish_to_s3_with(client, dir, &target().staging, run_id, &options)
        .await
        .unwrap();
}

/// Edits the `_latest` document of the staging prefix.
fn edit_latest(s3: &TestS3, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut latest: serde_json::Value =
        serde_json::from_slice(&s3.get("staging", "dwh/_latest").unwrap()).unwrap();
    edit(&mut latest);
    s3.put(
        "staging",
        "dwh/_latest",
        &serde_json::to_vec(&latest).unwrap(),
    );
}

fn table_entry<'a>(latest: &'a mut serde_json::Value, name: &str) -> &'a mut serde_json::Value {
    latest["tables"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["name"] == name)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_url_with_a_quote_is_rejected_before_any_statement() {
    let (s3, client, mut rs) = setup().await;
    let full = transform(|_| true, &[]);
    publish(&client, &w(&full), "run-1").await;
    edit_latest(&s3, |latest| {
        table_entry(latest, "songs")["manifest_url"] =
            "s3://staging/dwh/runs/run-1/songs.manifest' IAM_ROLE 'arn:aws:iam::999999999999:role/x".into();
    });
    let e = load_latest(&mut rs, &client, &target(), WriteMode::Merge)
        .await
        .unwrap_err();
    assert!(matches!(e, RedshiftError::Literal(_)), "{e}");
    assert!(e.to_string().contains("invalid S3 URL for COPY"), "{e}");
    assert!(rs.log.is_empty(), "{:#?}", rs.log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_without_row_counts_is_refused_before_any_statement() {
    let (s3, client, mut rs) = setup().await;
    let full = transform(|_| true, &[]);
    publish(&client, &w(&full), "run-1").await;
    edit_latest(&s3, |latest| {
        table_entry(latest, "time")
            .as_object_mut()
            .unwrap()
            .remove("rows");
    });
    let e = load_latest(&mut rs, &client, &target(), WriteMode::Merge)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("records no row count for time"),
        "{e}"
    );
    assert!(rs.log.is_empty());

    let other = RedshiftTarget::from_config(
        &config(&[("S3", "STAGING", Some("s3://staging/nothing-here"))]),
        false,
    )
    .unwrap();
    let e = load_latest(&mut rs, &client, &other, WriteMode::Merge)
        .await
        .unwrap_err();
    assert!(matches!(e, RedshiftError::NothingPublished { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_names_from_the_run_pointer_never_reach_a_statement() {
    let (s3, client, mut rs) = setup().await;
    let full = transform(|_| true, &[]);
    publish(&client, &w(&full), "run-1").await;
    let injected = "songs; DROP TABLE users; --";
    edit_latest(&s3, |latest| {
        let mut extra = table_entry(latest, "songs").clone();
        extra["name"] = injected.into();
        latest["tables"].as_array_mut().unwrap().push(extra);
    });
    load_latest(&mut rs, &client, &target(), WriteMode::Merge)
        .await
        .unwrap();
    assert!(!rs.log.iter().any(|s| s.contains("DROP TABLE users")));
    assert_eq!(rs.all_tables(), parquet_tables(&w(&full)));
}

#[test]
fn config_literals_and_identifiers_are_validated() {
    let bad = |changes: &[(&str, &str, Option<&str>)], key: &str| {
        let e = RedshiftTarget::from_config(&config(changes), false).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(key), "{key} not in {msg}");
        assert!(!msg.contains(PASSWORD), "{msg}");
    };
    for arn in [
        "arn:aws:iam::123456789012:role/x'y",
        "arn:aws:iam::12345678901:role/x",
        "arn:aws:iam::123456789012:user/x",
        "arn:aws:iam:us-east-1:123456789012:role/x",
        "arn:aws:iam::123456789012:role/a,arn:aws:iam::123456789012:role/b",
        "arn:aws:iam::123456789012:role/x;DROP",
        "aws:iam::123456789012:role/x",
    ] {
        bad(&[("IAM_ROLE", "ARN", Some(arn))], "[IAM_ROLE] ARN");
    }
    for staging in [
        "s3://staging/dw'h",
        "s3://staging/a b",
        "s3://staging",
        "s3://staging//x",
        "staging/dwh",
    ] {
        bad(&[("S3", "STAGING", Some(staging))], "[S3] STAGING");
    }
    for schema in ["dwh; DROP TABLE users", "Dwh", "1dwh", "dwh.x"] {
        bad(&[("CLUSTER", "SCHEMA", Some(schema))], "[CLUSTER] SCHEMA");
    }
    bad(
        &[("CLUSTER", "HOST", Some("h.example.com:5439/dev"))],
        "[CLUSTER] HOST",
    );
    bad(&[("CLUSTER", "DB_PORT", Some("54x"))], "[CLUSTER] DB_PORT");
    bad(
        &[("CLUSTER", "SSLMODE", Some("maybe"))],
        "[CLUSTER] SSLMODE",
    );
    bad(&[("IAM_ROLE", "ARN", None)], "[IAM_ROLE] ARN is missing");
    bad(
        &[("CLUSTER", "DB_PASSWORD", None)],
        "SPARKIFY_CLUSTER_DB_PASSWORD",
    );

    // A valid schema qualifies the tables, never the session's stage tables.
    let t =
        RedshiftTarget::from_config(&config(&[("CLUSTER", "SCHEMA", Some("dwh"))]), false).unwrap();
    let script = sparkify::warehouse::redshift::plan_for_dry_run(&t, "r1", WriteMode::Merge)
        .unwrap()
        .script();
    assert!(
        script.contains("CREATE TEMP TABLE stage_users (LIKE dwh.users);"),
        "{script}"
    );
    assert!(
        script.contains("DELETE FROM dwh.songs\nUSING stage_songs\n"),
        "{script}"
    );
}

#[test]
fn plain_text_to_a_remote_cluster_is_refused_on_the_resolved_plan() {
    // Default: TLS, certificate chain and host name verified; port 5439. Nothing connects.
    let t = target();
    assert_eq!(t.connection.port(), 5439);
    let plan = t.connection.plan().unwrap();
    assert!(!plan.local);
    assert_eq!(
        plan.transport,
        Transport::Tls {
            check: CertCheck::ChainAndHost(RootCerts::Bundled),
            fallback_to_plain: false
        }
    );
    assert_eq!(plan.channel_binding, ChannelBinding::Prefer);
    assert_eq!(plan.warning, None);
    let shown = format!("{t} {t:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(t
        .to_string()
        .starts_with("redshift://awsuser:***@example-cluster."));

    for mode in ["disable", "allow", "prefer"] {
        let cfg = config(&[("CLUSTER", "SSLMODE", Some(mode))]);
        let e = RedshiftTarget::from_config(&cfg, false).unwrap_err();
        assert!(
            matches!(e, RedshiftError::Connection(PgError::InsecureRemote { .. })),
            "{mode}: {e}"
        );
        assert!(e.to_string().contains(&format!("{HOST}:5439/dev")), "{e}");
        assert!(!e.to_string().contains(PASSWORD));
        // Only with the explicit opt-in.
        let t = RedshiftTarget::from_config(&cfg, true).unwrap();
        assert!(t.connection.plan().is_ok());
    }
    // This machine may be reached in plain text.
    let t = RedshiftTarget::from_config(
        &config(&[
            ("CLUSTER", "HOST", Some("127.0.0.1")),
            ("CLUSTER", "SSLMODE", Some("disable")),
            ("CLUSTER", "DB_PORT", None),
        ]),
        false,
    )
    .unwrap();
    assert_eq!(t.connection.plan().unwrap().transport, Transport::Plain);
    assert_eq!(t.connection.port(), 5439);
}

#[test]
fn redshift_tls_settings_follow_libpq_with_the_bundled_roots_for_verify_full() {
    let plan = |changes: &[(&str, &str, Option<&str>)]| {
        RedshiftTarget::from_config(&config(changes), false)
            .unwrap()
            .connection
            // Whatever ~/.postgresql/root.crt the tester has, it is not part of this test.
            .use_default_root_file(false)
            .plan()
            .unwrap()
    };
    // require: encrypted, server not authenticated, so channel binding is required and the
    // connection warns that the cluster's identity is not verified.
    let p = plan(&[("CLUSTER", "SSLMODE", Some("require"))]);
    assert_eq!(
        p.transport,
        Transport::Tls {
            check: CertCheck::None,
            fallback_to_plain: false
        }
    );
    assert_eq!(p.channel_binding, ChannelBinding::Require);
    assert!(p.warning.unwrap().contains("identity is not verified"));
    // ... unless CHANNEL_BINDING opts out, loudly.
    let p = plan(&[
        ("CLUSTER", "SSLMODE", Some("require")),
        ("CLUSTER", "CHANNEL_BINDING", Some("disable")),
    ]);
    assert_eq!(p.channel_binding, ChannelBinding::Disable);
    assert!(p.warning.unwrap().contains("collect the password"));
    // SSLROOTCERT=system is verify-full's default; a weaker SSLMODE with it is refused.
    let p = plan(&[("CLUSTER", "SSLROOTCERT", Some("system"))]);
    assert_eq!(
        p.transport,
        Transport::Tls {
            check: CertCheck::ChainAndHost(RootCerts::Bundled),
            fallback_to_plain: false
        }
    );
    for mode in ["require", "verify-ca"] {
        let cfg = config(&[
            ("CLUSTER", "SSLMODE", Some(mode)),
            ("CLUSTER", "SSLROOTCERT", Some("system")),
        ]);
        let e = RedshiftTarget::from_config(&cfg, false).unwrap_err();
        assert!(e.to_string().contains("sslrootcert=system"), "{mode}: {e}");
    }
    // verify-ca has no bundled default: without SSLROOTCERT (and ~/.postgresql/root.crt) the
    // binary refuses it before anything connects, in one line.
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), &[("CLUSTER", "SSLMODE", Some("verify-ca"))]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sparkify"))
        .args(["--config", &cfg, "etl", "--target", "redshift", "--dry-run"])
        .current_dir(tmp.path())
        .env("HOME", tmp.path())
        .env_remove("SPARKIFY_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("sslmode=verify-ca needs a trusted root"),
        "{err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");
    // A bad CHANNEL_BINDING names the key.
    let cfg = config(&[("CLUSTER", "CHANNEL_BINDING", Some("maybe"))]);
    let e = RedshiftTarget::from_config(&cfg, false).unwrap_err();
    assert!(e.to_string().contains("CHANNEL_BINDING"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// The real executor, against a throwaway PostgreSQL
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_executor_returns_text_rows_counts_and_sqlstates() {
    use sparkify::warehouse::redshift::Executor;
    let Some(pg) = common::pg::TestPg::start() else {
        return;
    };
    let mut client = pg.connect().await;
    client
        .run("CREATE TEMP TABLE t (a INTEGER, b VARCHAR(8));")
        .await
        .unwrap();
    let r = client
        .run("INSERT INTO t VALUES (1, 'x'), (2, NULL), (3, 'z');")
        .await
        .unwrap();
    assert_eq!(r.affected, 3);
    let r = client.run("SELECT count(*) FROM t;").await.unwrap();
    assert_eq!(r.scalar(), Some("3"));
    let r = client.run("SELECT a, b FROM t ORDER BY a").await.unwrap();
    assert_eq!(r.rows[1], vec![Some("2".to_string()), None]);
    let r = client.run("DELETE FROM t WHERE a > 1;").await.unwrap();
    assert_eq!(r.affected, 2);
    let e = client.run("SELECT * FROM missing;").await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("42P01"));
    assert!(e.message.contains("missing"), "{}", e.message);
}

// ---------------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------------

/// Runs the binary in `cwd` with the Redshift password only in the environment and the AWS chain
/// pointed at `s3` (when given).
fn sparkify_rs(cwd: &Path, s3: Option<&TestS3>, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sparkify"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("SPARKIFY_LOG")
        .env("SPARKIFY_CLUSTER_DB_PASSWORD", "env-only-pw-4711")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", cwd.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            cwd.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
    if let Some(s3) = s3 {
        cmd.env("AWS_ENDPOINT_URL", &s3.endpoint)
            .env("AWS_ACCESS_KEY_ID", &s3.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &s3.secret_key)
            .env("AWS_REGION", REGION);
    }
    cmd.output().unwrap()
}

fn write_config(dir: &Path, changes: &[(&str, &str, Option<&str>)]) -> String {
    let path = dir.join("dwh.cfg");
    std::fs::write(&path, config_text(changes)).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn dry_runs_print_every_statement_and_no_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), &[]);
    let run = |args: &[&str]| {
        let mut all = vec!["--config", cfg.as_str()];
        all.extend(args);
        let out = sparkify_rs(tmp.path(), None, &all);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {stderr}");
        for secret in [PASSWORD, "env-only-pw-4711"] {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{stdout}{stderr}"
            );
        }
        stdout
    };
    let out = run(&["etl", "--target", "redshift", "--dry-run"]);
    assert!(
        out.contains(&format!(
            "redshift://awsuser:***@{HOST}:5439/dev?sslmode=verify-full"
        )),
        "{out}"
    );
    assert!(
        out.contains("s3://staging/dwh/runs/RUN_ID/<table>/part-NNNNN.parquet"),
        "{out}"
    );
    assert_eq!(
        out.matches("FORMAT AS PARQUET\nMANIFEST;").count(),
        5,
        "{out}"
    );
    assert!(
        out.contains("CREATE TEMP TABLE stage_songplays (LIKE songplays);"),
        "{out}"
    );
    assert!(out.contains(&format!("IAM_ROLE '{ARN}'")), "{out}");
    assert!(
        out.contains("BEGIN;\n") && out.contains("COMMIT;\n"),
        "{out}"
    );
    assert!(!out.contains("TRUNCATE"));
    assert!(
        !tmp.path().join("warehouse").exists(),
        "a dry run wrote output"
    );

    let out = run(&[
        "load",
        "--target",
        "redshift",
        "--from-latest",
        "--write",
        "replace",
        "--dry-run",
    ]);
    assert!(
        out.contains("the run s3://staging/dwh/_latest names"),
        "{out}"
    );
    assert!(out.contains("DELETE FROM songs;\nCOPY songs ("), "{out}");
    // A window replace: the range's DELETE in the dry run, rows copied into stages first.
    for command in ["etl", "load"] {
        let out = run(&[
            command,
            "--target",
            "redshift",
            "--write",
            "replace-window",
            "--since",
            "2018-11-15",
            "--until",
            "2018-11-16",
            "--dry-run",
        ]);
        assert!(
            out.contains(
                "DELETE FROM songplays\nWHERE start_time >= TIMESTAMP '2018-11-15 00:00:00.000'\n  \
                 AND start_time < TIMESTAMP '2018-11-16 00:00:00.000';\nINSERT INTO songplays ("
            ),
            "{out}"
        );
        assert!(out.contains("COPY stage_songplays ("), "{out}");
    }
    let out = run(&["create-tables", "--target", "redshift", "--dry-run"]);
    assert!(
        out.contains("CREATE TABLE IF NOT EXISTS songplays (") && out.contains("DISTSTYLE"),
        "{out}"
    );
    let out = run(&["drop-tables", "--target", "redshift", "--dry-run"]);
    assert!(out.contains("DROP TABLE IF EXISTS songplays;"), "{out}");
}

#[test]
fn command_line_errors_are_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let check = |changes: &[(&str, &str, Option<&str>)], args: &[&str], expected: &str| {
        let cfg = write_config(tmp.path(), changes);
        let mut all = vec!["--config", cfg.as_str()];
        all.extend(args);
        let out = sparkify_rs(tmp.path(), None, &all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
        assert!(!stderr.contains("env-only-pw-4711") && !stderr.contains(PASSWORD));
    };
    check(
        &[("IAM_ROLE", "ARN", None)],
        &["etl", "--target", "redshift", "--dry-run"],
        "[IAM_ROLE] ARN is missing",
    );
    check(
        &[("CLUSTER", "SSLMODE", Some("disable"))],
        &["create-tables", "--target", "redshift"],
        "refusing to connect",
    );
    check(
        &[],
        &[
            "load",
            "--target",
            "postgres://u@localhost/d",
            "--from-latest",
        ],
        "--from-latest needs --target redshift",
    );
}

/// The whole command against servers of this test: S3 (staging) and a PostgreSQL standing in for
/// the cluster. PostgreSQL cannot run Redshift's COPY, so the load must fail there cleanly: the
/// run is published to staging with its row counts, the error names the COPY and says the load
/// errors could not be read, the tables are untouched and no output is published.
#[test]
fn etl_against_local_servers_publishes_then_fails_cleanly_at_the_copy() {
    let Some(pg) = common::pg::TestPg::start() else {
        return;
    };
    let s3 = TestS3::start();
    s3.create_bucket("staging");
    let tmp = tempfile::tempdir().unwrap();
    let port = pg.port().to_string();
    let cfg = write_config(
        tmp.path(),
        &[
            ("CLUSTER", "HOST", Some("127.0.0.1")),
            ("CLUSTER", "DB_PORT", Some(&port)),
            ("CLUSTER", "DB_NAME", Some("postgres")),
            ("CLUSTER", "DB_USER", Some("postgres")),
            ("CLUSTER", "SSLMODE", Some("disable")),
        ],
    );
    // The stand-in needs the tables for `CREATE TEMP TABLE … (LIKE …)`.
    sparkify_ok(tmp.path(), &["create-tables", "--target", &pg.url()]);
    let input = sample();
    let out = sparkify_rs(
        tmp.path(),
        Some(&s3),
        &[
            "--config",
            &cfg,
            "etl",
            "--input",
            input.to_str().unwrap(),
            "--target",
            "redshift",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("COPY into users from s3://staging/dwh/runs/"),
        "{stderr}"
    );
    assert!(
        stderr.contains("load error details unavailable"),
        "{stderr}"
    );
    assert!(!stderr.contains("env-only-pw-4711"), "{stderr}");
    assert!(
        !tmp.path().join("warehouse").exists(),
        "output published after a failed load"
    );

    let latest: serde_json::Value =
        serde_json::from_slice(&s3.get("staging", "dwh/_latest").unwrap()).unwrap();
    let songplays = latest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "songplays")
        .unwrap();
    assert_eq!(songplays["rows"], 6820);

    let n: i64 = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let c = pg.connect().await;
            c.query_one("SELECT count(*) FROM users", &[])
                .await
                .unwrap()
                .get(0)
        });
    assert_eq!(n, 0);
}
