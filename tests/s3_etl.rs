//! `etl` through the binary against the in-process S3 server: S3 → S3 and S3 → local equal the local
//! run row for row; pagination; faults; clear errors; nothing published by a failed run.

mod common;

use std::path::Path;
use std::process::Output;

use common::s3::{Faults, TestS3, ACCESS_KEY, REGION};
use common::{read_table, same_rows, sample, sparkify_ok};

const TABLES: [&str; 5] = ["songplays", "users", "songs", "artists", "time"];

/// Uploads every file under `dir` to `bucket` under `prefix`.
fn upload(s3: &TestS3, bucket: &str, prefix: &str, dir: &Path) {
    fn walk(s3: &TestS3, bucket: &str, key: &str, dir: &Path) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let k = format!("{key}/{name}");
            if e.file_type().unwrap().is_dir() {
                walk(s3, bucket, &k, &e.path());
            } else {
                s3.put(bucket, &k, &std::fs::read(e.path()).unwrap());
            }
        }
    }
    walk(s3, bucket, prefix, dir);
}

/// Runs the binary with the AWS chain pointed at the test server.
fn sparkify_s3(s3: &TestS3, cwd: &Path, secret: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sparkify"))
        .args(args)
        .current_dir(cwd)
        .env("AWS_ENDPOINT_URL", &s3.endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", REGION)
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", cwd.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            cwd.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

fn ok(out: Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Downloads the run `_latest` points at into `dest/<table>/…` via the manifests.
fn download_latest(s3: &TestS3, bucket: &str, prefix: &str, dest: &Path) -> serde_json::Value {
    let latest: serde_json::Value = serde_json::from_slice(
        &s3.get(bucket, &format!("{prefix}/_latest"))
            .expect("_latest"),
    )
    .unwrap();
    for table in TABLES {
        let entry = table_entry(&latest, table);
        let manifest_key = entry["manifest_key"].as_str().unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&s3.get(bucket, manifest_key).unwrap()).unwrap();
        let entries = manifest["entries"].as_array().unwrap();
        assert!(!entries.is_empty());
        std::fs::create_dir_all(dest.join(table)).unwrap();
        for e in entries {
            let url = e["url"].as_str().unwrap();
            let key = url.strip_prefix(&format!("s3://{bucket}/")).unwrap();
            assert!(!key.contains("//"), "{url}");
            assert!(key.ends_with(".parquet"), "{url}");
            let bytes = s3.get(bucket, key).unwrap();
            assert_eq!(e["meta"]["content_length"], bytes.len() as u64, "{url}");
            let name = key.rsplit('/').next().unwrap();
            std::fs::write(dest.join(table).join(name), bytes).unwrap();
        }
    }
    latest
}

fn table_entry<'a>(latest: &'a serde_json::Value, table: &str) -> &'a serde_json::Value {
    latest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == table)
        .unwrap()
}

fn local_run(input: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    sparkify_ok(
        tmp.path(),
        &["etl", "--input", input.to_str().unwrap(), "--output", "w"],
    );
    tmp
}

fn assert_same_tables(a: &Path, b: &Path) {
    for table in TABLES {
        assert!(
            same_rows(&read_table(a, table), &read_table(b, table)),
            "{table} differs"
        );
    }
}

#[test]
fn s3_to_s3_and_s3_to_local_equal_the_local_run() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    s3.create_bucket("out");
    upload(&s3, "input", "sparkify", &sample());
    let tmp = tempfile::tempdir().unwrap();
    let local = local_run(&sample());

    let summary = ok(sparkify_s3(
        &s3,
        tmp.path(),
        &s3.secret_key,
        &[
            "etl",
            "--input",
            "s3://input/sparkify",
            "--output",
            "s3://out/wh",
            "--json",
        ],
    ));
    assert_eq!(summary["matched_songplays"], 1);
    let got = tmp.path().join("from-s3");
    let latest = download_latest(&s3, "out", "wh", &got);
    assert_eq!(table_entry(&latest, "songplays")["rows"], 6820);
    assert_same_tables(&local.path().join("w"), &got);

    ok(sparkify_s3(
        &s3,
        tmp.path(),
        &s3.secret_key,
        &[
            "etl",
            "--input",
            "s3://input/sparkify",
            "--output",
            "w2",
            "--json",
        ],
    ));
    assert_same_tables(&local.path().join("w"), &tmp.path().join("w2"));
}

#[test]
fn more_than_a_thousand_song_objects_are_listed_and_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("gen");
    sparkify_ok(
        tmp.path(),
        &[
            "generate",
            "--output",
            gen.to_str().unwrap(),
            "--songs",
            "1500",
            "--events",
            "3000",
            "--seed",
            "3",
            "--days",
            "2",
        ],
    );
    let s3 = TestS3::start();
    s3.create_bucket("input");
    upload(&s3, "input", "g", &gen);
    let summary = ok(sparkify_s3(
        &s3,
        tmp.path(),
        &s3.secret_key,
        &[
            "etl",
            "--input",
            "s3://input/g",
            "--output",
            "w",
            "--json",
            "--s3-concurrency",
            "16",
        ],
    ));
    assert_eq!(summary["song_files"], 1500);
    let local = local_run(&gen);
    assert_same_tables(&local.path().join("w"), &tmp.path().join("w"));
}

#[test]
fn transient_faults_are_retried_to_the_same_output() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    s3.create_bucket("out");
    upload(&s3, "input", "p", &sample());
    s3.set_faults(Faults {
        error_rate: 0.3,
        max_consecutive: Some(3),
        ..Faults::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    ok(sparkify_s3(
        &s3,
        tmp.path(),
        &s3.secret_key,
        &[
            "etl",
            "--input",
            "s3://input/p",
            "--output",
            "s3://out/wh",
            "--json",
        ],
    ));
    assert!(
        s3.injected() > 10,
        "faults were injected: {}",
        s3.injected()
    );
    s3.clear_faults();
    download_latest(&s3, "out", "wh", &tmp.path().join("got"));
    assert_same_tables(
        &local_run(&sample()).path().join("w"),
        &tmp.path().join("got"),
    );
}

#[test]
fn a_failing_store_is_one_clear_error_and_publishes_nothing() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    s3.create_bucket("out");
    upload(&s3, "input", "p", &sample());
    let tmp = tempfile::tempdir().unwrap();
    // A first good run is published…
    ok(sparkify_s3(
        &s3,
        tmp.path(),
        &s3.secret_key,
        &[
            "etl",
            "--input",
            "s3://input/p",
            "--output",
            "s3://out/wh",
            "--json",
        ],
    ));
    let before = s3.get("out", "wh/_latest").unwrap();
    // …then every upload fails: the run fails and `_latest` still names the first run.
    s3.set_faults(Faults {
        always_fail: true,
        methods: vec![http::Method::PUT, http::Method::POST],
        ..Faults::default()
    });
    let out = sparkify_s3(
        &s3,
        tmp.path(),
        &s3.secret_key,
        &["etl", "--input", "s3://input/p", "--output", "s3://out/wh"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: S3 put s3://out/wh/runs/"), "{err}");
    s3.clear_faults();
    assert_eq!(s3.get("out", "wh/_latest").unwrap(), before);
}

#[test]
fn user_errors_name_the_bucket_and_hide_the_secret() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    upload(&s3, "input", "p", &sample());
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 3] = [
        (
            "s3://missing-bucket/p",
            s3.secret_key.as_str(),
            "s3://missing-bucket/p/",
        ),
        (
            "s3://input/p",
            "wrong-secret-value",
            "SignatureDoesNotMatch",
        ),
        ("s3://Bad_Bucket/p", s3.secret_key.as_str(), "Bad_Bucket"),
    ];
    for (input, secret, needle) in cases {
        let out = sparkify_s3(
            &s3,
            tmp.path(),
            secret,
            &["etl", "--input", input, "--output", "w"],
        );
        assert_eq!(out.status.code(), Some(2), "{input}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{input}: {err}");
        assert!(!err.contains(secret), "secret leaked: {err}");
        assert!(!err.contains(&s3.secret_key), "secret leaked: {err}");
    }
}
