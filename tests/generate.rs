//! `sparkify generate`: it replaces only the data it wrote itself.

mod common;

use common::{sparkify, sparkify_ok};

const SMALL: [&str; 6] = ["--songs", "20", "--events", "500", "--days", "2"];

fn generate_into(cwd: &std::path::Path, out: &str) -> std::process::Output {
    let mut args = vec!["generate", "--output", out];
    args.extend(SMALL);
    sparkify(cwd, &args)
}

#[test]
fn generate_refuses_to_replace_song_data_it_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let mine = tmp.path().join("data/song_data/A/mine.json");
    std::fs::create_dir_all(mine.parent().unwrap()).unwrap();
    std::fs::write(&mine, br#"{"song_id":"S1","artist_id":"A1"}"#).unwrap();

    let out = generate_into(tmp.path(), "data");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("refusing to replace") && stderr.contains("song_data"),
        "{stderr}"
    );
    assert!(mine.is_file(), "the user's song file is untouched");
    assert!(
        !tmp.path().join("data/log_data").exists(),
        "nothing was written: both folders are checked before either is touched"
    );
}

#[test]
fn generate_refuses_log_data_it_did_not_write_before_touching_song_data() {
    let tmp = tempfile::tempdir().unwrap();
    sparkify_ok(
        tmp.path(),
        &[
            "generate", "--output", "data", "--songs", "5", "--events", "0",
        ],
    );
    let generated_song = std::fs::read_dir(tmp.path().join("data/song_data"))
        .unwrap()
        .count();
    // The user's own log_data replaces the generated one.
    std::fs::remove_dir_all(tmp.path().join("data/log_data")).unwrap();
    let notes = tmp.path().join("data/log_data/notes.txt");
    std::fs::create_dir_all(notes.parent().unwrap()).unwrap();
    std::fs::write(&notes, b"my notes").unwrap();

    let out = generate_into(tmp.path(), "data");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&notes).unwrap(), b"my notes");
    assert_eq!(
        std::fs::read_dir(tmp.path().join("data/song_data"))
            .unwrap()
            .count(),
        generated_song,
        "song_data is left as it was"
    );
}

#[test]
fn generate_replaces_its_own_output_and_writes_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let first = generate_into(tmp.path(), "data");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let log = tmp
        .path()
        .join("data/log_data/2018/11/2018-11-02-events.json");
    let before = std::fs::read(&log).unwrap();
    std::fs::write(tmp.path().join("data/log_data/stray.json"), b"{}").unwrap();

    let again = generate_into(tmp.path(), "data");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(std::fs::read(&log).unwrap(), before, "deterministic");
    assert!(
        !tmp.path().join("data/log_data/stray.json").exists(),
        "a folder generate wrote is replaced whole"
    );
    // The marker is hidden, so readers of the data never see it.
    assert!(tmp
        .path()
        .join("data/song_data")
        .join(sparkify_generate::MARKER)
        .is_file());
}
