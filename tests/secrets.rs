//! Planted secrets never appear in any output: logs at every verbosity, errors, `--dry-run`, `--json`.

mod common;

use std::process::Command;

const DB_SECRET: &str = "planted-db-Secret-7731";
const PG_SECRET: &str = "planted-pg-Secret-5521";
const AWS_SECRET: &str = "planted/aws/Secret+9913";
const AWS_TOKEN: &str = "planted-aws-session-token-4410";

fn run(cwd: &std::path::Path, port: u16, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sparkify"))
        .args(args)
        .current_dir(cwd)
        .env("SPARKIFY_CLUSTER_DB_PASSWORD", DB_SECRET)
        .env("PGPASSWORD", PG_SECRET)
        .env("AWS_ACCESS_KEY_ID", "AKIAPLANTEDKEY")
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        .env("AWS_SESSION_TOKEN", AWS_TOKEN)
        .env("AWS_REGION", "us-east-1")
        // A port this test released: connections are refused at once.
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn no_output_ever_shows_a_secret() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("dwh.cfg"),
        format!(
            "[CLUSTER]\nHOST='localhost'\nDB_PASSWORD='{DB_SECRET}'\n[S3]\nREGION='us-east-1'\n"
        ),
    )
    .unwrap();
    let sample = common::sample();
    let sample = sample.to_str().unwrap();
    let port = common::closed_port();
    let url_with_password = format!("postgres://me:{PG_SECRET}@127.0.0.1:{port}/dwh");
    let url_without_password = format!("postgres://me@127.0.0.1:{port}/dwh");
    let cases: Vec<Vec<&str>> = vec![
        vec!["etl", "-vv", "--input", sample, "--json"],
        vec!["etl", "-vv", "--input", sample, "--dry-run"],
        vec![
            "etl",
            "-vv",
            "--input",
            sample,
            "--target",
            &url_without_password,
        ],
        vec![
            "etl",
            "-vv",
            "--input",
            sample,
            "--target",
            &url_with_password,
            "--dry-run",
        ],
        vec!["create-tables", "-vv", "--target", &url_with_password],
        vec!["load", "-vv", "--target", &url_with_password],
        vec![
            "etl",
            "-vv",
            "--input",
            "s3://some-bucket/prefix",
            "--output",
            "w",
        ],
        vec![
            "etl",
            "-vv",
            "--input",
            sample,
            "--output",
            "s3://some-bucket/out",
        ],
    ];
    for args in cases {
        let output = run(tmp.path(), port, &args);
        assert!(!output.is_empty(), "{args:?} printed nothing");
        for secret in [DB_SECRET, PG_SECRET, AWS_SECRET, AWS_TOKEN] {
            assert!(
                !output.contains(secret),
                "{args:?} leaked a secret:\n{output}"
            );
        }
    }
}
