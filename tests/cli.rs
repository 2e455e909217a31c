//! The binary's interface: dry runs, exit codes, one-line errors, JSON output.

mod common;

use common::{sample, sparkify, sparkify_ok};

#[test]
fn dry_run_prints_the_plan_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sparkify_ok(
        tmp.path(),
        &["etl", "--dry-run", "--input", sample().to_str().unwrap()],
    );
    assert!(out.contains("log_data/**.json"), "{out}");
    assert!(
        out.contains("warehouse/{songplays,users,songs,artists,time}/part-NNNNN.parquet"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn json_summary_is_one_object_that_accounts_for_every_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sparkify_ok(
        tmp.path(),
        &["etl", "--json", "--input", sample().to_str().unwrap()],
    );
    assert_eq!(out.trim().lines().count(), 1);
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["event_lines"], 8056);
    let rows = |t: &str| {
        s["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == t)
            .unwrap()["rows"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        s["event_lines"].as_u64().unwrap(),
        rows("songplays")
            + s["other_events"].as_u64().unwrap()
            + s["duplicate_events"].as_u64().unwrap()
            + s["rejected_events"].as_u64().unwrap()
    );
    assert!(tmp
        .path()
        .join("warehouse/songplays/part-00000.parquet")
        .is_file());
}

#[test]
fn default_run_uses_the_bundled_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sparkify_ok(tmp.path(), &["etl"]);
    assert!(out.contains("songplays") && out.contains("6820"), "{out}");
    assert!(out.contains("matched songplays: 1"), "{out}");
}

#[test]
fn user_errors_are_one_line_with_exit_code_2() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            vec!["etl", "--input", "no/such/dir"],
            "cannot read no/such/dir",
        ),
        (
            vec!["etl", "--config", "missing.cfg"],
            "cannot read config missing.cfg",
        ),
        (
            // A remote host without TLS is refused before any connection is tried.
            vec![
                "etl",
                "--target",
                "postgres://u:hunter2@db.example.invalid/db",
            ],
            "db.example.invalid:5432/db",
        ),
        (
            vec!["transform", "--rows-per-file", "0"],
            "--rows-per-file must be at least 1",
        ),
    ] {
        let out = sparkify(tmp.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(!err.contains("hunter2"));
    }
}

#[test]
fn empty_input_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    let out = sparkify(tmp.path(), &["etl", "--input", "empty"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no .json or .json.gz files under empty"));
}

#[test]
fn output_inside_the_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_sample(&tmp.path().join("in"), |d| d == 1);
    let out = sparkify(tmp.path(), &["etl", "--input", "in", "--output", "in"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("would replace the input folder"));
}

#[test]
fn gzip_input_is_read_and_corrupt_gzip_rejected() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    common::copy_sample(&input, |d| d == 3);
    let day = input.join("log_data/2018/11/2018-11-03-events.json");
    let bytes = std::fs::read(&day).unwrap();
    std::fs::remove_file(&day).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    std::fs::write(day.with_extension("json.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(
        input.join("log_data/2018/11/broken.json.gz"),
        b"\x1f\x8bnot gzip",
    )
    .unwrap();
    let s: serde_json::Value = serde_json::from_str(&sparkify_ok(
        tmp.path(),
        &[
            "etl",
            "--input",
            "in",
            "--output",
            "out",
            "--json",
            "--max-bad-records",
            "1",
        ],
    ))
    .unwrap();
    let lines = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    assert_eq!(s["event_lines"].as_u64().unwrap(), lines + 1);
    assert_eq!(s["rejected"], 1);
}

#[test]
fn a_config_readable_by_others_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("dwh.cfg");
    std::fs::write(&cfg, "[S3]\nREGION='us-east-1'\n").unwrap();
    let run = || {
        let out = sparkify(tmp.path(), &["etl", "--dry-run"]);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(run().contains("is readable by other users"));
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(!run().contains("readable"));
}
