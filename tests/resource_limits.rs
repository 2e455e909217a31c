//! Hostile input cannot make a run eat memory, hang or write without end: a 200 MB song file of
//! NUL bytes and a 1 GB gzip bomb stay under 200 MB of peak memory (the binary's own `ru_maxrss`),
//! every reject keeps at most 4 KiB of text, named pipes and device links are skipped unopened and
//! counted, too many bad records stop the run early, and the S3 limits are validated.
#![cfg(unix)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::copy_sample;

/// Peak memory a run may reach on hostile input.
const MAX_RSS_BYTES: u64 = 200 << 20;

/// What a run of the binary did.
struct Measured {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// Peak resident memory of the process, in bytes.
    max_rss: u64,
}

/// Runs the binary with `args` in `dir` and reads its peak memory from `wait4`.
#[allow(clippy::zombie_processes)] // reaped by `wait4`, which std's `wait` does not offer
fn measured(dir: &Path, args: &[&str]) -> Measured {
    let (out_path, err_path) = (dir.join(".stdout"), dir.join(".stderr"));
    let child = Command::new(env!("CARGO_BIN_EXE_sparkify"))
        .args(args)
        .current_dir(dir)
        .env_remove("SPARKIFY_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // Safety: a zeroed rusage is a valid value to fill in; `pid` is our unwaited child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Measured {
        code,
        stdout: std::fs::read_to_string(out_path).unwrap(),
        stderr: std::fs::read_to_string(err_path).unwrap(),
        // Linux reports ru_maxrss in KiB.
        max_rss: usage.ru_maxrss as u64 * 1024,
    }
}

fn json(run: &Measured) -> serde_json::Value {
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

fn rejects_of(output: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(output.join("_rejects/part-00000.ndjson")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// An input of one sample song and one sample log day, plus what `add` puts in it.
fn input(add: impl FnOnce(&Path)) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    copy_sample(&input, |d| d == 1);
    add(&input);
    tmp
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

#[test]
fn a_200_mb_song_file_of_nul_bytes_is_rejected_in_bounded_memory() {
    let tmp = input(|input| {
        let file = std::fs::File::create(input.join("song_data/nul.json")).unwrap();
        file.set_len(200 << 20).unwrap(); // sparse: no disk used
    });
    let dir = tmp.path();
    let base = [
        "transform",
        "--input",
        "in",
        "--max-bad-records",
        "1",
        "--json",
    ];

    // Over the default limit: rejected unread.
    let run = measured(dir, &[&base[..], &["--output", "a"]].concat());
    let summary = json(&run);
    eprintln!(
        "200 MB NUL song file, default limit: peak RSS {:.1} MB",
        mb(run.max_rss)
    );
    assert_eq!(summary["rejected"], 1);
    let reject = &rejects_of(&dir.join("a"))[0];
    assert_eq!(reject["file"], "song_data/nul.json");
    assert!(
        reject["reason"]
            .as_str()
            .unwrap()
            .contains("holds more than --max-file-bytes 67108864 bytes"),
        "{reject}"
    );
    assert!(run.max_rss < MAX_RSS_BYTES, "{:.1} MB", mb(run.max_rss));

    // Under a raised limit: read (mapped, only its start is looked at), rejected with 4 KiB of text.
    let run = measured(
        dir,
        &[&base[..], &["--output", "b", "--max-file-bytes", "1G"]].concat(),
    );
    let summary = json(&run);
    eprintln!(
        "200 MB NUL song file, 1 GiB limit: peak RSS {:.1} MB",
        mb(run.max_rss)
    );
    assert_eq!(summary["rejected"], 1);
    let reject = &rejects_of(&dir.join("b"))[0];
    assert_eq!(reject["reason"], "text outside a JSON object");
    assert_eq!(reject["raw"].as_str().unwrap().len(), 4096);
    assert_eq!(reject["raw_bytes"], 200 << 20);
    let rejects_size = std::fs::metadata(dir.join("b/_rejects/part-00000.ndjson")).unwrap();
    assert!(
        rejects_size.len() < 64 << 10,
        "{} bytes",
        rejects_size.len()
    );
    assert!(run.max_rss < MAX_RSS_BYTES, "{:.1} MB", mb(run.max_rss));
}

/// A gzip file that inflates to `mib` MiB of zeros: one small gzip member, repeated (a
/// `.json.gz` may hold several members, read one after the other).
fn gzip_bomb(path: &Path, mib: usize) {
    let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    member.write_all(&vec![0; 1 << 20]).unwrap();
    let member = member.finish().unwrap();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for _ in 0..mib {
        file.write_all(&member).unwrap();
    }
    file.flush().unwrap();
}

#[test]
fn a_1_gb_gzip_bomb_is_rejected_in_bounded_memory() {
    for folder in ["log_data", "song_data"] {
        let tmp = input(|input| gzip_bomb(&input.join(folder).join("bomb.json.gz"), 1000));
        let dir = tmp.path();
        let run = measured(
            dir,
            &[
                "transform",
                "--input",
                "in",
                "--output",
                "out",
                "--max-bad-records",
                "1",
                "--json",
            ],
        );
        let summary = json(&run);
        eprintln!(
            "1 GB gzip bomb under {folder}: peak RSS {:.1} MB",
            mb(run.max_rss)
        );
        assert_eq!(summary["rejected"], 1);
        let reject = &rejects_of(&dir.join("out"))[0];
        assert_eq!(reject["file"], format!("{folder}/bomb.json.gz"));
        assert!(
            reject["reason"]
                .as_str()
                .unwrap()
                .contains("decompresses to more than --max-file-bytes"),
            "{reject}"
        );
        assert!(
            run.max_rss < MAX_RSS_BYTES,
            "{folder}: {:.1} MB",
            mb(run.max_rss)
        );
    }
}

#[test]
fn a_song_file_reject_keeps_at_most_4_kib_of_the_file() {
    let tmp = input(|input| {
        let mut bytes = br#"{"song_id":"S1","artist_id":"A1","title":"t"}"#.to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 100_000));
        std::fs::write(input.join("song_data/tail.json"), bytes).unwrap();
    });
    let dir = tmp.path();
    let run = measured(
        dir,
        &[
            "transform",
            "--input",
            "in",
            "--output",
            "out",
            "--max-bad-records",
            "1",
            "--json",
        ],
    );
    assert_eq!(json(&run)["rejected"], 1);
    let reject = &rejects_of(&dir.join("out"))[0];
    assert_eq!(reject["reason"], "text outside a JSON object");
    assert_eq!(reject["raw"], "x".repeat(4096));
    assert_eq!(reject["raw_bytes"], 100_000);
}

#[test]
fn named_pipes_and_links_to_devices_are_skipped_unopened_and_counted() {
    let tmp = input(|input| {
        for fifo in ["song_data/live.json", "log_data/live.json"] {
            let made = Command::new("mkfifo").arg(input.join(fifo)).status();
            assert!(made.is_ok_and(|s| s.success()), "mkfifo {fifo}");
        }
        std::os::unix::fs::symlink("/dev/zero", input.join("log_data/zero.json")).unwrap();
    });
    let dir = tmp.path();
    // Were a pipe opened for reading, the run would wait for a writer forever; were /dev/zero
    // read, it would never end.
    let run = measured(dir, &["etl", "--input", "in", "--output", "out", "--json"]);
    let summary = json(&run);
    assert_eq!(
        summary["skipped_files"],
        serde_json::json!([
            "log_data/live.json",
            "log_data/zero.json",
            "song_data/live.json"
        ])
    );
    assert_eq!(summary["rejected"], 0);
    assert!(
        run.stderr.contains("skipped") && run.stderr.contains("a named pipe"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("a device"), "{}", run.stderr);
    let clean = tempfile::tempdir().unwrap();
    copy_sample(&clean.path().join("in"), |d| d == 1);
    let reference = json(&measured(
        clean.path(),
        &["etl", "--input", "in", "--output", "out", "--json"],
    ));
    assert_eq!(summary["tables"], reference["tables"]);
    assert_eq!(summary["event_lines"], reference["event_lines"]);
    let text = measured(dir, &["etl", "--input", "in", "--output", "out"]);
    assert!(
        text.stdout
            .contains("skipped: 3 entries that are not regular files"),
        "{}",
        text.stdout
    );
}

#[test]
fn too_many_bad_records_stop_the_run_early() {
    const BROKEN: usize = 2000;
    let tmp = input(|input| {
        let dir = input.join("song_data/broken");
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..BROKEN {
            std::fs::write(dir.join(format!("{i:05}.json")), b"{\"song_id\":").unwrap();
        }
    });
    let dir = tmp.path();
    let run = measured(dir, &["etl", "--input", "in", "--output", "out"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("exceed --max-bad-records 0"),
        "{}",
        run.stderr
    );
    assert!(!dir.join("out").exists(), "nothing published");
    let kept = rejects_of(&dir.join("out.failed"));
    // The song files are read in parallel: the workers stop at their next file once one is
    // rejected, far from reading all of them.
    assert!(
        !kept.is_empty() && kept.len() < BROKEN / 2,
        "{} rejects kept",
        kept.len()
    );
    let count: usize = run.stderr["error: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(count, kept.len(), "{}", run.stderr);
}

#[test]
fn limits_are_validated_before_any_work() {
    let tmp = input(|_| {});
    let dir = tmp.path();
    for (flags, needle) in [
        (
            &["--s3-concurrency", "100000"][..],
            "--s3-concurrency must be between 1 and 256",
        ),
        (
            &["--s3-concurrency", "0"][..],
            "--s3-concurrency must be between 1 and 256",
        ),
        (
            &["--max-file-bytes", "0"][..],
            "--max-file-bytes must be at least 1",
        ),
        (&["--max-file-bytes", "12X"][..], "unknown unit"),
    ] {
        let run = measured(
            dir,
            &[&["etl", "--input", "in", "--output", "out"][..], flags].concat(),
        );
        assert_eq!(run.code, Some(2), "{flags:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{flags:?}: {}", run.stderr);
        assert!(!dir.join("out").exists());
    }
}
