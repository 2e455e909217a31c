//! Shared test harness: the binary, temp dirs, the real data, reading Parquet back.
#![allow(dead_code)]

pub mod emulation;
pub mod pg;
pub mod redshift;
pub mod rows;
pub mod s3;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{Array, RecordBatch};
use arrow::compute::concat_batches;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The bundled sample (`data/` in the repo).
pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// The larger real input (the S3 layout of `../shared/data/large`): its 1,943 song files, bundled
/// as `tests/fixtures/large_song_data.tar.gz`, and its 30 log files and JSONPaths file, which are
/// byte-identical to the sample's. Unpacked once into the tests' temporary folder.
pub fn large() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("large-v1");
        if dir.join("song_data").is_dir() {
            return dir; // complete: it is renamed into place only once unpacked
        }
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let gz = std::fs::read(fixtures.join("large_song_data.tar.gz")).expect("read the fixture");
        untar_gz(&gz, tmp.path());
        copy_tree(&sample().join("log_data"), &tmp.path().join("log_data"));
        std::fs::copy(
            sample().join("log_json_path.json"),
            tmp.path().join("log_json_path.json"),
        )
        .expect("copy log_json_path.json");
        let unpacked = tmp.keep();
        // Another test binary may have won the race: its copy is as good.
        if std::fs::rename(&unpacked, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&unpacked);
        }
        assert!(dir.join("song_data").is_dir(), "{} unpacked", dir.display());
        dir
    })
    .clone()
}

/// Unpacks the regular files and folders of a gzip-compressed ustar archive into `into`.
fn untar_gz(gz: &[u8], into: &Path) {
    use std::io::Read;
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut tar)
        .expect("gunzip the fixture");
    let mut at = 0;
    while at + 512 <= tar.len() {
        let header = &tar[at..at + 512];
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let field = |range: std::ops::Range<usize>| {
            let bytes = &header[range];
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            std::str::from_utf8(&bytes[..end])
                .expect("ASCII header")
                .trim()
                .to_string()
        };
        let (name, prefix) = (field(0..100), field(345..500));
        let name = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let size = usize::from_str_radix(&field(124..136), 8).expect("octal size");
        at += 512;
        let path = into.join(&name);
        match header[156] {
            b'5' => std::fs::create_dir_all(&path).expect("create folder"),
            b'0' | 0 => std::fs::write(&path, &tar[at..at + size]).expect("write file"),
            kind => panic!("unexpected entry type {kind} for {name}"),
        }
        at += size.div_ceil(512) * 512;
    }
}

/// Copies the folder tree `from` to `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Runs the `sparkify` binary with `args` in `cwd`.
pub fn sparkify(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sparkify"))
        .args(args)
        .current_dir(cwd)
        .env_remove("SPARKIFY_LOG")
        .output()
        .expect("run sparkify")
}

/// Runs `sparkify` and asserts success; returns stdout.
pub fn sparkify_ok(cwd: &Path, args: &[&str]) -> String {
    let out = sparkify(cwd, args);
    assert!(
        out.status.success(),
        "sparkify {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `sparkify etl --input <input> --output w --target <url> --write <write> --json <extra…>` in
/// `cwd`, which must succeed; its JSON summary.
pub fn load_json(
    cwd: &Path,
    input: &Path,
    url: &str,
    write: &str,
    extra: &[&str],
) -> serde_json::Value {
    let input = input.to_str().unwrap();
    let mut args = vec![
        "etl", "--input", input, "--output", "w", "--target", url, "--write", write, "--json",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&sparkify_ok(cwd, &args)).unwrap()
}

/// Reads every part file of `table` under `root` into one batch.
pub fn read_table(root: &Path, table: &str) -> RecordBatch {
    let dir = root.join(table);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no files in {}", dir.display());
    let mut batches = Vec::new();
    let mut schema = None;
    for f in files {
        let file = std::fs::File::open(&f).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        schema = Some(builder.schema().clone());
        let reader = builder.build().unwrap();
        for b in reader {
            batches.push(b.unwrap());
        }
    }
    concat_batches(&schema.unwrap(), &batches).unwrap()
}

/// Column `name` of `batch`, downcast.
pub fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("column {name} has another type"))
}

/// Makes a copy of the sample in `dir`, with only the given log days (1-based), for edits.
pub fn copy_sample(dir: &Path, days: impl Fn(u32) -> bool) {
    let src = sample();
    copy_dir(&src.join("song_data"), &dir.join("song_data"));
    let logs = dir.join("log_data/2018/11");
    std::fs::create_dir_all(&logs).unwrap();
    for day in 1..=30 {
        if days(day) {
            let name = format!("2018-11-{day:02}-events.json");
            std::fs::copy(src.join("log_data/2018/11").join(&name), logs.join(&name)).unwrap();
        }
    }
}

/// Recursively copies a folder.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Whether two batches hold equal data (schema and values).
pub fn same_rows(a: &RecordBatch, b: &RecordBatch) -> bool {
    a.schema() == b.schema()
        && a.num_rows() == b.num_rows()
        && a.columns()
            .iter()
            .zip(b.columns())
            .all(|(x, y)| x.to_data() == y.to_data())
}

/// A loopback port this test bound and released, so nothing listens there: a connection to it is
/// refused at once, and no traffic reaches any server the test did not start.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// The day the corrected-input tests rewrite: 2018-11-15, as `--since`/`--until` values and as
/// epoch milliseconds.
pub const CORRECTED_DAY: (&str, &str) = ("2018-11-15", "2018-11-16");
pub const CORRECTED_DAY_MS: (i64, i64) = (1_542_240_000_000, 1_542_326_400_000);

/// What [`correct_day`] changed.
#[derive(Debug, Default)]
pub struct Corrections {
    /// Song plays removed.
    pub dropped: usize,
    /// Song plays moved one second later (inside the day).
    pub moved: usize,
    /// Song plays given another song, one of the catalogue's.
    pub rematched: usize,
    /// Events whose level was flipped, all of the users whose latest event is on the day.
    pub relevelled: usize,
}

/// Makes a copy of the sample in `dir` where the log file of [`CORRECTED_DAY`] is rewritten as an
/// upstream fix would: some plays removed, some moved a second later, some given a catalogue
/// song ("Ten Tonne" by Chase & Status), and the level flipped on every event of the users whose
/// latest event lies on that day. Plays are removed only for users with events on later days,
/// so no user's latest event disappears (a window replace merges users by their latest event
/// and cannot see that one was removed). With `only_day`, the copy holds no other log file.
pub fn correct_day(dir: &Path, only_day: bool) -> Corrections {
    copy_sample(dir, |d| !only_day || d == 15);
    let logs = sample().join("log_data/2018/11");
    let events = |day: u32| -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(logs.join(format!("2018-11-{day:02}-events.json")))
            .expect("read a sample log file");
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("a sample event"))
            .collect()
    };
    let user = |e: &serde_json::Value| e["userId"].as_str().unwrap_or("").to_owned();
    // Each user's latest event (ts, itemInSession) and the day it lies on.
    let mut latest: std::collections::HashMap<String, ((i64, i64), u32)> = Default::default();
    for day in 1..=30 {
        for e in events(day) {
            let key = (
                e["ts"].as_i64().unwrap(),
                e["itemInSession"].as_i64().unwrap(),
            );
            let u = user(&e);
            if !u.is_empty() && latest.get(&u).is_none_or(|(k, _)| key > *k) {
                latest.insert(u, (key, day));
            }
        }
    }
    let ends_here = |u: &str| latest.get(u).is_some_and(|(_, d)| *d == 15);
    let mut c = Corrections::default();
    let mut out = String::new();
    for (i, mut e) in events(15).into_iter().enumerate() {
        let u = user(&e);
        let play = e["page"] == "NextSong";
        if play && !u.is_empty() && !ends_here(&u) && i % 7 == 0 {
            c.dropped += 1;
            continue;
        }
        if play && i % 11 == 0 {
            let ts = e["ts"].as_i64().unwrap() + 1000;
            assert!(ts < CORRECTED_DAY_MS.1);
            e["ts"] = ts.into();
            c.moved += 1;
        } else if play && i % 13 == 0 {
            e["song"] = "Ten Tonne".into();
            e["artist"] = "Chase & Status".into();
            e["length"] = 337.68444.into();
            c.rematched += 1;
        }
        if ends_here(&u) {
            let flipped = if e["level"] == "free" { "paid" } else { "free" };
            e["level"] = flipped.into();
            c.relevelled += 1;
        }
        out.push_str(&serde_json::to_string(&e).unwrap());
        out.push('\n');
    }
    let path = dir.join("log_data/2018/11/2018-11-15-events.json");
    std::fs::write(path, out).expect("write the corrected day");
    assert!(
        c.dropped > 0 && c.moved > 0 && c.rematched > 0 && c.relevelled > 0,
        "{c:?}"
    );
    c
}

/// Compares `actual` with the golden file `tests/golden/<rel>`; `UPDATE_GOLDEN=1` rewrites it.
pub fn assert_golden(rel: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(rel);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert!(
        expected == actual,
        "{} differs (rerun with UPDATE_GOLDEN=1 after checking the change)\n--- issued\n{actual}",
        path.display()
    );
}
