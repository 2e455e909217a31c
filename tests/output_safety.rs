//! `--output` never destroys what sparkify did not write: an output that is, contains or lies
//! inside the input (however the path is spelled), an existing folder of someone else's, a file,
//! and a `.failed` folder sparkify did not write are refused or left alone, with nothing touched.
//! Reruns over an output sparkify wrote (marked, or laid out as by the versions before the
//! marker) keep working.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{copy_sample, read_table, same_rows, sparkify};

/// Every file under `dir` with its content, to show that nothing was touched.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(&path, base, out);
            } else if kind.is_symlink() {
                out.insert(
                    rel,
                    std::fs::read_link(&path)
                        .unwrap()
                        .display()
                        .to_string()
                        .into(),
                );
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Runs `etl --input in --output <output> <extra>` in `dir`, expecting a refusal: exit 2, one line
/// on stderr holding `needle`, and not a byte changed anywhere under `dir`. Also with `--dry-run`.
fn refused(dir: &Path, output: &str, needle: &str) {
    let before = snapshot(dir);
    for dry_run in [false, true] {
        let mut args = vec!["etl", "--input", "in", "--output", output];
        if dry_run {
            args.push("--dry-run");
        }
        let out = sparkify(dir, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--output {output}: {err}");
        assert_eq!(err.lines().count(), 1, "--output {output}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "--output {output}: {err}"
        );
        assert_eq!(snapshot(dir), before, "--output {output} touched something");
    }
}

fn input() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_sample(&tmp.path().join("in"), |d| d <= 2);
    tmp
}

#[test]
fn an_output_that_is_contains_or_lies_inside_the_input_is_refused() {
    let tmp = input();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("x")).unwrap();
    std::os::unix::fs::symlink("in", dir.join("link-to-in")).unwrap();
    std::os::unix::fs::symlink("in/song_data", dir.join("link-to-songs")).unwrap();
    for (output, needle) in [
        ("in", "would replace the input folder"),
        ("x/../in", "would replace the input folder"),
        ("./in/", "would replace the input folder"),
        ("link-to-in", "would replace the input folder"),
        ("in/song_data", "lies inside the input folder"),
        ("link-to-songs", "lies inside the input folder"),
        ("in/log_data/2018", "lies inside the input folder"),
        ("in/new/not/yet/there", "lies inside the input folder"),
        (
            "x/../in/song_data/../log_data",
            "lies inside the input folder",
        ),
        (".", "contains the input folder"),
        ("..", "contains the input folder"),
    ] {
        refused(dir, output, needle);
    }
}

#[test]
fn an_existing_folder_or_file_sparkify_did_not_write_is_refused() {
    let tmp = input();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("notes")).unwrap();
    std::fs::write(dir.join("notes/todo.txt"), b"my notes").unwrap();
    refused(dir, "notes", "refusing to replace");
    refused(dir, "notes", "`todo.txt`");
    // A folder with table names but other files in them is not an output either.
    std::fs::create_dir_all(dir.join("lookalike/songs")).unwrap();
    std::fs::write(dir.join("lookalike/songs/mine.csv"), b"a,b").unwrap();
    refused(dir, "lookalike", "`songs/mine.csv`");
    std::fs::write(dir.join("report.pdf"), b"%PDF").unwrap();
    refused(dir, "report.pdf", "it is a file, not a folder");
    std::os::unix::fs::symlink("nowhere", dir.join("dangling")).unwrap();
    refused(dir, "dangling", "symbolic link");
}

#[test]
fn reruns_replace_outputs_sparkify_wrote_before_and_after_the_marker() {
    let tmp = input();
    let dir = tmp.path();
    let ok = |output: &str| {
        let out = sparkify(dir, &["etl", "--input", "in", "--output", output]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // An empty folder is replaced; every output is marked.
    std::fs::create_dir(dir.join("out")).unwrap();
    ok("out");
    assert!(dir.join("out/_SPARKIFY").is_file());
    let first = read_table(&dir.join("out"), "songplays");
    ok("out");
    // An output of a version before the marker: table folders and `_rejects/`, nothing else.
    std::fs::remove_file(dir.join("out/_SPARKIFY")).unwrap();
    std::fs::write(dir.join("out/_rejects/part-00000.ndjson"), b"{}\n").unwrap();
    ok("out");
    assert!(dir.join("out/_SPARKIFY").is_file());
    assert!(same_rows(
        &first,
        &read_table(&dir.join("out"), "songplays")
    ));
    // An output reached through a link is replaced where it is; the link stays.
    std::os::unix::fs::symlink("out", dir.join("via-link")).unwrap();
    ok("via-link");
    assert!(std::fs::symlink_metadata(dir.join("via-link"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(same_rows(
        &first,
        &read_table(&dir.join("out"), "songplays")
    ));
}

#[test]
fn a_failed_folder_sparkify_did_not_write_is_left_alone() {
    let tmp = input();
    let dir = tmp.path();
    let day = dir.join("in/log_data/2018/11/2018-11-01-events.json");
    let mut bytes = std::fs::read(&day).unwrap();
    bytes.extend_from_slice(b"{broken\n");
    std::fs::write(&day, bytes).unwrap();
    std::fs::create_dir(dir.join("out.failed")).unwrap();
    std::fs::write(dir.join("out.failed/notes.txt"), b"mine").unwrap();

    let out = sparkify(dir, &["etl", "--input", "in", "--output", "out"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        std::fs::read(dir.join("out.failed/notes.txt")).unwrap(),
        b"mine"
    );
    assert_eq!(snapshot(&dir.join("out.failed")).len(), 1, "nothing added");
    // The rejects are kept beside it instead, and the message says where.
    let kept: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("out.failed-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let rejects = dir.join(&kept[0]).join("_rejects/part-00000.ndjson");
    assert!(err.contains(&kept[0]), "{err}");
    assert!(std::fs::read_to_string(rejects)
        .unwrap()
        .contains("{broken"));
    assert!(!dir.join("out").exists(), "nothing published");

    // A `.failed` folder sparkify wrote is replaced by the next failed run's.
    let out = sparkify(dir, &["etl", "--input", "in", "--output", "kept"]);
    assert_eq!(out.status.code(), Some(1));
    let out = sparkify(dir, &["etl", "--input", "in", "--output", "kept"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(dir.join("kept.failed/_SPARKIFY").is_file());
    assert!(dir.join("kept.failed/_rejects/part-00000.ndjson").is_file());
    assert!(!dir.join("kept.failed/songplays").exists());
}
