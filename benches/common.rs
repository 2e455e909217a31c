//! Bench inputs: the bundled real sample and generated logs, read into memory once.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use sparkify::source::local::LocalSource;
use sparkify::source::Source;
use sparkify_generate::{generate, GenerateOptions};

/// All files of `dir` (`song_data` or `log_data`) under `root`, as (name, bytes).
pub fn read_all(root: &Path, dir: &str) -> Vec<(String, Vec<u8>)> {
    let source = LocalSource::open(root).expect("open bench input");
    let files = source.list(dir).expect("list bench input");
    let (tx, rx) = std::sync::mpsc::sync_channel(files.len().max(1));
    source.fetch(&files, tx);
    rx.into_iter()
        .map(|f| {
            let f = f.expect("read bench input");
            (f.name, f.bytes.to_vec())
        })
        .collect()
}

/// The bundled real sample.
pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Generated Sparkify data (~100 MB of logs unless `SPARKIFY_BENCH_EVENTS` says otherwise), made once
/// per bench run in a temp folder.
pub fn generated() -> (tempfile::TempDir, PathBuf) {
    let events = std::env::var("SPARKIFY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("gen");
    generate(&GenerateOptions {
        output: root.clone(),
        songs: 5_000,
        events,
        seed: 7,
        match_rate: 0.5,
        days: 10,
    })
    .expect("generate bench data");
    (dir, root)
}

/// Total bytes of a file set.
pub fn total_bytes(files: &[(String, Vec<u8>)]) -> u64 {
    files.iter().map(|(_, b)| b.len() as u64).sum()
}
