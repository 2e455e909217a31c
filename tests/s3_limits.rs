//! S3 against the in-process server: two publishes to one prefix cannot silently lose one (the run
//! pointer is written with a conditional PUT, which the test server enforces atomically), objects
//! over `--max-file-bytes` are rejected without being fetched, and an object rejected on its own
//! (a corrupt `.json.gz`) does not end the reading of the objects after it.

mod common;

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::Client;
use common::s3::{TestS3, REGION};
use hyper::Method;
use sparkify::s3::{s3_client, S3Location, S3Settings, StaticCredentials};
use sparkify::sink::s3::{publish_to_s3, read_latest, PublishError, PublishReport};

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

/// A staged output: one Parquet-named file per table.
fn stage(dir: &Path) {
    for table in ["songplays", "users", "songs", "artists", "time"] {
        std::fs::create_dir_all(dir.join(table)).unwrap();
        std::fs::write(dir.join(table).join("part-00000.parquet"), table).unwrap();
    }
}

/// The one that won of two publishes at once; the other must have failed naming the pointer.
fn winner(
    a: Result<PublishReport, PublishError>,
    b: Result<PublishReport, PublishError>,
) -> PublishReport {
    let (won, lost) = match (a, b) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        (a, b) => panic!("exactly one publish must win: {a:?} / {b:?}"),
    };
    assert!(
        matches!(&lost, PublishError::PointerChanged { key, .. } if key == "dw/_latest"),
        "{lost:?}"
    );
    let message = lost.to_string();
    assert!(message.contains("s3://out/dw/_latest changed"), "{message}");
    assert_eq!(sparkify::Error::from(lost).exit_code(), 2);
    won
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_publishes_at_once_cannot_silently_lose_one() {
    for earlier_run in [None, Some("run-0")] {
        let s3 = TestS3::start();
        s3.create_bucket("out");
        let client = client(&s3).await;
        let dest = S3Location::parse("s3://out/dw").unwrap();
        let staged = tempfile::tempdir().unwrap();
        stage(staged.path());
        if let Some(run) = earlier_run {
            publish_to_s3(&client, staged.path(), &dest, run, 4)
                .await
                .unwrap();
        }
        // Both read the pointer, upload, then commit; the first commit to arrive is held until
        // the other's is served, so it finds the pointer changed.
        s3.hold_put("out", "dw/_latest");
        let (a, b) = tokio::join!(
            publish_to_s3(&client, staged.path(), &dest, "run-a", 4),
            publish_to_s3(&client, staged.path(), &dest, "run-b", 4),
        );
        let won = winner(a, b);
        let latest = read_latest(&client, &dest).await.unwrap().unwrap();
        assert_eq!(latest.run_id, won.run_id);
        assert_eq!(latest.previous_run_id.as_deref(), earlier_run);
        // A publish that starts after both sees the winner and commits over it.
        publish_to_s3(&client, staged.path(), &dest, "run-c", 4)
            .await
            .unwrap();
        let latest = read_latest(&client, &dest).await.unwrap().unwrap();
        assert_eq!(latest.previous_run_id, Some(won.run_id));
    }
}

/// Uploads the sample's songs and the given log days under `in/`.
fn upload_sample(s3: &TestS3, days: impl Fn(u32) -> bool) {
    let dir = tempfile::tempdir().unwrap();
    common::copy_sample(dir.path(), days);
    fn walk(s3: &TestS3, key: &str, dir: &Path) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let k = format!("{key}/{}", e.file_name().to_string_lossy());
            if e.file_type().unwrap().is_dir() {
                walk(s3, &k, &e.path());
            } else {
                s3.put("input", &k, &std::fs::read(e.path()).unwrap());
            }
        }
    }
    walk(s3, "in", dir.path());
}

fn etl_json(s3: &TestS3, cwd: &Path, extra: &[&str]) -> serde_json::Value {
    let out = s3
        .sparkify(cwd)
        .args([
            "etl",
            "--input",
            "s3://input/in",
            "--output",
            "out",
            "--json",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn objects_over_the_limit_are_rejected_without_being_fetched() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    upload_sample(&s3, |d| d <= 2);
    let cwd = tempfile::tempdir().unwrap();
    let limit = ["--max-file-bytes", "100K", "--max-bad-records", "1"];
    let gets_before = s3.requests_with(&Method::GET);
    let clean = etl_json(&s3, cwd.path(), &limit);
    let clean_gets = s3.requests_with(&Method::GET) - gets_before;
    assert_eq!(clean["rejected"], 0);

    // An object of 200 KB under log_data: listed, never fetched, one reject.
    s3.put(
        "input",
        "in/log_data/2018/11/2018-11-03-big.json",
        &vec![b' '; 200_000],
    );
    let gets_before = s3.requests_with(&Method::GET);
    let run = etl_json(&s3, cwd.path(), &limit);
    assert_eq!(
        s3.requests_with(&Method::GET) - gets_before,
        clean_gets,
        "no GET for it"
    );
    assert_eq!(run["rejected"], 1);
    assert_eq!(run["tables"], clean["tables"]);
    let rejects =
        std::fs::read_to_string(cwd.path().join("out/_rejects/part-00000.ndjson")).unwrap();
    assert!(
        rejects.contains("2018-11-03-big.json holds more than --max-file-bytes 102400 bytes"),
        "{rejects}"
    );
}

#[test]
fn a_corrupt_gzip_object_is_one_reject_and_the_objects_after_it_are_read() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    upload_sample(&s3, |d| d <= 5);
    let cwd = tempfile::tempdir().unwrap();
    let clean = etl_json(&s3, cwd.path(), &[]);
    // Listed first among the logs: every object after it must still be read.
    s3.put(
        "input",
        "in/log_data/2018/11/2018-11-00-broken.json.gz",
        b"not gzip at all",
    );
    let run = etl_json(&s3, cwd.path(), &["--max-bad-records", "1"]);
    assert_eq!(run["rejected"], 1);
    assert_eq!(run["tables"], clean["tables"]);
    assert_eq!(
        run["event_lines"],
        clean["event_lines"].as_u64().unwrap() + 1
    );
}
