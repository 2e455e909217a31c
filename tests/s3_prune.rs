//! Old runs under an S3 prefix are deleted: the run pointer's history says which runs to keep, a
//! run newer than the pointer (a publish in progress) is never touched, `etl --output s3://…`
//! prunes after it publishes, and `prune-runs` does it on demand.

mod common;

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::Client;
use common::s3::{TestS3, REGION};
use common::sample;
use sparkify::s3::{s3_client, S3Location, S3Settings, StaticCredentials};
use sparkify::sink::s3::{prune_runs, publish_to_s3, read_latest, KeepRuns};

const HOUR: Duration = Duration::from_secs(3600);

async fn client(s3: &TestS3) -> Client {
    s3_client(&S3Settings {
        region: Some(REGION.to_string()),
        endpoint_url: Some(s3.endpoint.clone()),
        credentials: Some(StaticCredentials::new(&s3.access_key, &s3.secret_key)),
        ..S3Settings::default()
    })
    .await
}

/// A staged output folder with one small file per table.
fn stage(dir: &Path) {
    for table in ["songplays", "users", "songs", "artists", "time"] {
        std::fs::create_dir_all(dir.join(table)).unwrap();
        std::fs::write(dir.join(table).join("part-00000.parquet"), table).unwrap();
    }
}

/// The run ids that have objects under `bucket/prefix/runs/`.
fn runs(s3: &TestS3, bucket: &str, prefix: &str) -> Vec<String> {
    let mut runs: Vec<String> = s3
        .keys(bucket)
        .iter()
        .filter_map(|k| {
            k.strip_prefix(&format!("{prefix}/runs/"))?
                .split('/')
                .next()
        })
        .map(str::to_string)
        .collect();
    runs.sort();
    runs.dedup();
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_keeps_the_runs_the_pointer_names_and_spares_a_publish_in_progress() {
    let s3 = TestS3::start();
    s3.create_bucket("warehouse");
    let client = client(&s3).await;
    let dest = S3Location::parse("s3://warehouse/out").unwrap();
    let staged = tempfile::tempdir().unwrap();
    stage(staged.path());

    for run in ["r1", "r2", "r3", "r4", "r5"] {
        publish_to_s3(&client, staged.path(), &dest, run, 4)
            .await
            .unwrap();
    }
    let latest = read_latest(&client, &dest).await.unwrap().unwrap();
    assert_eq!(latest.run_id, "r5");
    assert_eq!(latest.history, ["r4", "r3", "r2", "r1"]);
    assert_eq!(latest.previous_run_id.as_deref(), Some("r4"));

    // Every run is an hour old; then a publish begins (objects, no pointer yet) and a failed
    // publish left objects long ago.
    s3.age("warehouse", "out/runs", HOUR);
    s3.put("warehouse", "out/runs/r6/songs/part-00000.parquet", b"new");
    s3.put("warehouse", "out/runs/r0/songs/part-00000.parquet", b"old");
    s3.age("warehouse", "out/runs/r0", HOUR);
    s3.age("warehouse", "out/_latest", HOUR / 2);

    let keep = KeepRuns::Latest(3);
    let dry = prune_runs(&client, &dest, keep, true, 4).await.unwrap();
    assert_eq!(dry.kept, ["r5", "r4", "r3"]);
    assert_eq!(dry.deleted, ["r0", "r1", "r2"]);
    assert_eq!(dry.spared, ["r6"]);
    assert_eq!(
        dry.objects, 21,
        "5 tables + 5 manifests per run, r0's one file"
    );
    assert_eq!(
        runs(&s3, "warehouse", "out"),
        ["r0", "r1", "r2", "r3", "r4", "r5", "r6"],
        "a dry run deletes nothing"
    );

    let done = prune_runs(&client, &dest, keep, false, 4).await.unwrap();
    assert_eq!(done, dry);
    assert_eq!(runs(&s3, "warehouse", "out"), ["r3", "r4", "r5", "r6"]);
    let keys = s3.keys("warehouse");
    assert!(keys.contains(&"out/_latest".to_string()), "{keys:?}");

    // `all` never deletes; the latest alone is kept with 1.
    let all = prune_runs(&client, &dest, KeepRuns::All, false, 4)
        .await
        .unwrap();
    assert!(all.deleted.is_empty());
    assert_eq!(runs(&s3, "warehouse", "out"), ["r3", "r4", "r5", "r6"]);
    let one = prune_runs(&client, &dest, KeepRuns::Latest(1), false, 4)
        .await
        .unwrap();
    assert_eq!(one.deleted, ["r3", "r4"]);
    assert_eq!(runs(&s3, "warehouse", "out"), ["r5", "r6"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_published_means_nothing_pruned() {
    let s3 = TestS3::start();
    s3.create_bucket("warehouse");
    let client = client(&s3).await;
    s3.put("warehouse", "out/runs/r1/songs/part-00000.parquet", b"x");
    s3.age("warehouse", "out", HOUR);
    let dest = S3Location::parse("s3://warehouse/out").unwrap();
    let report = prune_runs(&client, &dest, KeepRuns::Latest(1), false, 4)
        .await
        .unwrap();
    assert!(report.deleted.is_empty() && report.kept.is_empty());
    assert_eq!(runs(&s3, "warehouse", "out"), ["r1"]);
}

fn sparkify(s3: &TestS3, cwd: &Path, args: &[&str]) -> std::process::Output {
    let out = s3.sparkify(cwd).args(args).output().unwrap();
    eprintln!(
        "sparkify {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn etl_to_s3_keeps_two_runs_and_prune_runs_deletes_on_demand() {
    let s3 = TestS3::start();
    s3.create_bucket("out");
    let cwd = tempfile::tempdir().unwrap();
    let input = sample();
    let etl = [
        "etl",
        "--input",
        input.to_str().unwrap(),
        "--output",
        "s3://out/wh",
        "--quiet",
    ];

    for expected in [1, 2, 2] {
        let out = sparkify(&s3, cwd.path(), &etl);
        assert!(out.status.success());
        assert_eq!(runs(&s3, "out", "wh").len(), expected);
        // The next run's pointer is written later than every object of this one.
        s3.age("out", "wh/runs", HOUR);
    }
    let before = runs(&s3, "out", "wh");

    let out = sparkify(
        &s3,
        cwd.path(),
        &[
            "prune-runs",
            "--staging",
            "s3://out/wh",
            "--keep-runs",
            "1",
            "--dry-run",
        ],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "would delete 1 run(s), 10 object(s): {}",
            before[0]
        )),
        "{stdout}"
    );
    assert_eq!(runs(&s3, "out", "wh"), before);

    let out = sparkify(
        &s3,
        cwd.path(),
        &["prune-runs", "--staging", "s3://out/wh", "--keep-runs", "1"],
    );
    assert!(out.status.success());
    assert_eq!(runs(&s3, "out", "wh"), before[1..]);

    // A bad count is refused before anything is read.
    let requests = s3.requests();
    let out = sparkify(
        &s3,
        cwd.path(),
        &["prune-runs", "--staging", "s3://out/wh", "--keep-runs", "0"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keep-runs"));
    assert_eq!(s3.requests(), requests);
}
