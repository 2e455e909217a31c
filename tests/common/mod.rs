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

/// The large song set in `../shared/data/large`, when present.
pub fn large() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/large");
    if p.join("song_data").is_dir() {
        Some(p)
    } else {
        eprintln!("SKIPPED: ../shared/data/large is not present");
        None
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
