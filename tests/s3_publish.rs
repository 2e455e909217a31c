//! Publishing a staged output folder to the in-process S3 server.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::Client;
use common::s3::{Faults, TestS3, REGION};
use sparkify::s3::{s3_client, S3Location, S3Settings, StaticCredentials};
use sparkify::sink::s3::{
    prune_runs, publish_to_s3, publish_to_s3_with, read_latest, read_manifest, KeepRuns,
    PublishError, PublishOptions,
};

const TABLES: [&str; 5] = ["songplays", "users", "songs", "artists", "time"];

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

/// Writes a staged output folder: `files` Parquet-named files per table (`seed` varies the bytes),
/// a non-Parquet leftover that must not be published, and a rejects file.
fn stage(dir: &Path, files: usize, seed: u8) -> BTreeMap<String, Vec<u8>> {
    let mut staged = BTreeMap::new();
    for (t, table) in TABLES.iter().enumerate() {
        std::fs::create_dir_all(dir.join(table)).unwrap();
        for p in 0..files {
            let bytes: Vec<u8> = (0..(100 + 997 * p + 13 * t))
                .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(t as u8))
                .collect();
            let rel = format!("{table}/part-{p:05}.parquet");
            std::fs::write(dir.join(&rel), &bytes).unwrap();
            staged.insert(rel, bytes);
        }
        std::fs::write(dir.join(table).join("_SUCCESS"), b"").unwrap();
    }
    std::fs::create_dir_all(dir.join("_rejects")).unwrap();
    std::fs::write(dir.join("_rejects/events.ndjson"), b"{\"line\":1}\n").unwrap();
    staged.insert("_rejects/events.ndjson".into(), b"{\"line\":1}\n".to_vec());
    staged
}

/// Every object under `prefix`, listed back through the S3 API, with its bytes.
async fn objects_under(client: &Client, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for o in page.unwrap().contents() {
            let key = o.key().unwrap().to_string();
            let bytes = client
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .to_vec();
            assert_eq!(o.size(), Some(bytes.len() as i64));
            out.insert(key.strip_prefix(prefix).unwrap().to_string(), bytes);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_uploads_everything_writes_manifests_and_commits_latest() {
    let s3 = TestS3::start();
    s3.create_bucket("warehouse");
    let client = client(&s3).await;
    let dest = S3Location::parse("s3://warehouse/sparkify/out/").unwrap();
    assert_eq!(read_latest(&client, &dest).await.unwrap(), None);

    let dir = tempfile::tempdir().unwrap();
    let mut staged = stage(dir.path(), 3, 7);
    // One file above the multipart threshold: 12 MiB in 5 MiB parts.
    let big: Vec<u8> = (0..12 * 1024 * 1024 + 123)
        .map(|i| (i % 251) as u8)
        .collect();
    std::fs::write(dir.path().join("songplays/part-00099.parquet"), &big).unwrap();
    staged.insert("songplays/part-00099.parquet".into(), big);

    let options = PublishOptions {
        concurrency: 8,
        multipart_threshold: 5 * 1024 * 1024,
        part_size: 5 * 1024 * 1024,
        rows: [("songs".to_string(), 71)].into_iter().collect(),
    };
    let report = publish_to_s3_with(&client, dir.path(), &dest, "run-1", &options)
        .await
        .unwrap();
    assert_eq!(report.run_id, "run-1");
    assert_eq!(report.latest_key, "sparkify/out/_latest");
    assert_eq!(report.objects.len(), staged.len());
    for (key, size) in &report.objects {
        let rel = key.strip_prefix("sparkify/out/runs/run-1/").unwrap();
        assert_eq!(*size, staged[rel].len() as u64, "{key}");
    }

    // What the server holds under the run: the staged files, manifests, nothing else.
    let run = objects_under(&client, "warehouse", "sparkify/out/runs/run-1/").await;
    let data: BTreeMap<_, _> = run
        .iter()
        .filter(|(k, _)| !k.ends_with(".manifest"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        data, staged,
        "objects equal the staged files; _SUCCESS left out"
    );
    for table in TABLES {
        assert!(run
            .keys()
            .filter(|k| k.starts_with(&format!("{table}/")))
            .all(|k| k.ends_with(".parquet")));
    }
    assert!(!s3.has_multipart_leftovers());

    // Manifests: Redshift's format, sizes equal the objects', no `//` after the bucket.
    let latest = read_latest(&client, &dest).await.unwrap().unwrap();
    assert_eq!(latest.run_id, "run-1");
    assert_eq!(latest.previous_run_id, None);
    assert_eq!(latest.run_prefix, "sparkify/out/runs/run-1/");
    let names: Vec<_> = latest.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["artists", "songplays", "songs", "time", "users"]);
    assert_eq!(report.manifests.len(), 5);
    for (table, key) in &report.manifests {
        let entry = latest.table(table).unwrap();
        assert_eq!(&entry.manifest_key, key);
        assert_eq!(entry.manifest_url, format!("s3://warehouse/{key}"));
        let raw: serde_json::Value =
            serde_json::from_slice(&run[&format!("{table}.manifest")]).unwrap();
        assert!(raw["entries"].as_array().is_some());
        let manifest = read_manifest(&client, "warehouse", key).await.unwrap();
        assert_eq!(manifest.entries.len(), entry.files);
        let mut total = 0;
        for e in &manifest.entries {
            assert!(e.mandatory);
            let key = e.url.strip_prefix("s3://warehouse/").unwrap();
            assert!(!key.contains("//") && !key.starts_with('/'), "{}", e.url);
            let rel = key.strip_prefix("sparkify/out/runs/run-1/").unwrap();
            assert_eq!(e.meta.content_length, staged[rel].len() as u64, "{}", e.url);
            total += e.meta.content_length;
        }
        assert_eq!(total, entry.bytes);
    }
    assert_eq!(
        latest.rejects,
        ["sparkify/out/runs/run-1/_rejects/events.ndjson"]
    );
    let pointer: serde_json::Value =
        serde_json::from_slice(&s3.get("warehouse", "sparkify/out/_latest").unwrap()).unwrap();
    assert_eq!(pointer["run_id"], "run-1");

    // A run id is never reused.
    let err = publish_to_s3(&client, dir.path(), &dest, "run-1", 4)
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::RunExists { .. }), "{err}");
    eprintln!("{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_failing_mid_upload_leaves_the_previous_run_published() {
    let s3 = TestS3::start();
    s3.create_bucket("warehouse");
    let client = client(&s3).await;
    let dest = S3Location::parse("s3://warehouse/out").unwrap();

    let first = tempfile::tempdir().unwrap();
    let staged1 = stage(first.path(), 2, 3);
    publish_to_s3(&client, first.path(), &dest, "run-1", 4)
        .await
        .unwrap();
    let before = objects_under(&client, "warehouse", "out/").await;

    // The second run: its 3rd PUT and every later one fail, in the middle of the multipart upload
    // of the big file (3 parts) at the latest.
    let second = tempfile::tempdir().unwrap();
    stage(second.path(), 4, 5);
    let big: Vec<u8> = vec![9; 11 * 1024 * 1024];
    std::fs::write(second.path().join("songs/part-00042.parquet"), big).unwrap();
    s3.set_faults(Faults {
        fail_after: Some(2),
        methods: vec![http::Method::PUT],
        ..Faults::default()
    });
    let options = PublishOptions {
        concurrency: 2,
        multipart_threshold: 5 * 1024 * 1024,
        part_size: 5 * 1024 * 1024,
        ..PublishOptions::default()
    };
    let deletes = s3.requests_with(&http::Method::DELETE);
    let err = publish_to_s3_with(&client, second.path(), &dest, "run-2", &options)
        .await
        .unwrap_err();
    assert_eq!(
        s3.requests_with(&http::Method::DELETE),
        deletes + 1,
        "the multipart upload was aborted"
    );
    let text = err.to_string();
    eprintln!("{text}");
    assert!(matches!(err, PublishError::S3(_)), "{text}");
    assert!(text.contains("s3://warehouse/out/runs/run-2/"), "{text}");
    assert!(
        text.contains("InternalError") || text.contains("SlowDown"),
        "{text}"
    );
    s3.clear_faults();

    // `_latest` still names run-1, whose objects are intact.
    let latest = read_latest(&client, &dest).await.unwrap().unwrap();
    assert_eq!(latest.run_id, "run-1");
    let after = objects_under(&client, "warehouse", "out/").await;
    for (key, bytes) in &before {
        assert_eq!(after.get(key), Some(bytes), "{key}");
    }
    for (rel, bytes) in &staged1 {
        assert_eq!(&before[&format!("runs/run-1/{rel}")], bytes);
    }
    assert!(!after
        .keys()
        .any(|k| k.starts_with("runs/run-2/") && k.ends_with(".manifest")));
    assert!(
        !s3.has_multipart_leftovers(),
        "the failed multipart upload was aborted"
    );

    // The failed run id cannot be reused, a new one publishes and keeps run-1 as previous.
    let err = publish_to_s3(&client, second.path(), &dest, "run-2", 4)
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::RunExists { .. }), "{err}");
    publish_to_s3(&client, second.path(), &dest, "run-3", 4)
        .await
        .unwrap();
    let latest = read_latest(&client, &dest).await.unwrap().unwrap();
    assert_eq!(latest.run_id, "run-3");
    assert_eq!(latest.previous_run_id.as_deref(), Some("run-1"));

    // Pruning keeps the latest and the previous run, and deletes the failed leftovers once they
    // are older than the run pointer.
    s3.age("warehouse", "out/runs", Duration::from_secs(3600));
    let report = prune_runs(&client, &dest, KeepRuns::DEFAULT, false, 4)
        .await
        .unwrap();
    assert_eq!(report.deleted, ["run-2"]);
    assert_eq!(report.kept, ["run-3", "run-1"]);
    let keys = s3.keys("warehouse");
    assert!(keys.iter().any(|k| k.starts_with("out/runs/run-1/")));
    assert!(keys.iter().any(|k| k.starts_with("out/runs/run-3/")));
    assert!(!keys.iter().any(|k| k.starts_with("out/runs/run-2/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_errors_are_clear() {
    let s3 = TestS3::start();
    let client = client(&s3).await;
    let dir = tempfile::tempdir().unwrap();
    stage(dir.path(), 1, 1);

    let dest = S3Location::parse("s3://missing-bucket/out").unwrap();
    let err = publish_to_s3(&client, dir.path(), &dest, "r1", 4)
        .await
        .unwrap_err();
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        text.contains("s3://missing-bucket/out/") && text.contains("NoSuchBucket"),
        "{text}"
    );

    s3.create_bucket("warehouse");
    let dest = S3Location::parse("s3://warehouse/out").unwrap();
    let err = publish_to_s3(&client, dir.path(), &dest, "bad/id", 4)
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::RunId { .. }), "{err}");
    let err = publish_to_s3(&client, &dir.path().join("nope"), &dest, "r1", 4)
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::Io { .. }), "{err}");

    s3.put("warehouse", "out/_latest", b"not json");
    let err = read_latest(&client, &dest).await.unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, PublishError::BadPointer { .. }), "{err}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the parser's error is kept"
    );

    let key = "out/runs/r0/songs.manifest";
    let err = read_manifest(&client, "warehouse", key).await.unwrap_err();
    assert!(
        matches!(&err, PublishError::NotFound { key: k, .. } if k == key),
        "{err}"
    );
    s3.put("warehouse", key, b"[]");
    let err = read_manifest(&client, "warehouse", key).await.unwrap_err();
    assert!(matches!(err, PublishError::BadManifest { .. }), "{err}");
}
