//! The server, the sources and the data of the benchmark.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sparkify::s3::{S3Location, S3Settings, StaticCredentials};
use sparkify::sink::rejects::RejectSink;
use sparkify::source::s3::S3Source;
use sparkify::source::{InputFile, Source};
use sparkify::summary::EtlSummary;
use sparkify::transform::{transform, TransformOptions};
use sparkify::Progress;
use sparkify_generate::{generate, GenerateOptions};

use crate::measure::{measure, ms, Stat};
use crate::s3::{Faults, TestS3};

pub(crate) fn settings(server: &TestS3) -> S3Settings {
    S3Settings {
        region: Some(crate::s3::REGION.to_string()),
        endpoint_url: Some(server.endpoint.clone()),
        credentials: Some(StaticCredentials::new(
            &server.access_key,
            &server.secret_key,
        )),
        force_path_style: Some(true),
        ..S3Settings::default()
    }
}

pub(crate) fn connect(server: &TestS3, url: &str, concurrency: usize) -> S3Source {
    S3Source::connect(
        &settings(server),
        S3Location::parse(url).expect("bench URL"),
    )
    .expect("connect to the bench S3 server")
    .with_concurrency(concurrency)
    // The throughput case reads log objects of ~90 MB, past the default file limit.
    .with_limits(sparkify::source::Limits {
        max_file_bytes: 1 << 30,
    })
}

pub(crate) fn with_latency(server: &TestS3, latency: Duration) {
    server.set_faults(Faults {
        get_latency: latency,
        ..Faults::default()
    });
}

/// Every file under `root`, as a `/`-separated relative name and its path.
pub(crate) fn walk(root: &Path) -> Vec<(String, PathBuf)> {
    fn go(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) {
        for entry in std::fs::read_dir(dir).expect("read generated folder") {
            let entry = entry.expect("read generated folder");
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if entry.file_type().expect("file type").is_dir() {
                go(&entry.path(), &rel, out);
            } else {
                out.push((rel, entry.path()));
            }
        }
    }
    let mut out = Vec::new();
    go(root, "", &mut out);
    out.sort();
    out
}

pub(crate) fn generate_into(root: &Path, songs: u64, events: u64, days: u32) {
    let started = Instant::now();
    let summary = generate(&GenerateOptions {
        output: root.to_path_buf(),
        songs,
        events,
        seed: 7,
        match_rate: 0.5,
        days,
    })
    .expect("generate bench data");
    eprintln!(
        "generated {} song + {} log files, {:.1} MB, in {:.1} s",
        summary.song_files,
        summary.log_files,
        summary.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
}

/// Runs the full transform from `source` into a fresh folder; returns seconds and the summary.
pub(crate) fn run_transform(source: &dyn Source) -> (f64, EtlSummary) {
    let out = tempfile::tempdir().expect("temp output folder");
    let started = Instant::now();
    let rejects = RejectSink::create(out.path(), u64::MAX).expect("rejects folder");
    let summary = transform(
        source,
        out.path(),
        &TransformOptions::default(),
        &rejects,
        &Progress::hidden(),
    )
    .expect("transform");
    (started.elapsed().as_secs_f64(), summary)
}

pub(crate) fn stages(summary: &EtlSummary) -> String {
    summary
        .stages
        .iter()
        .map(|(name, s)| format!("{name} {} ms", ms(*s)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Median and number of requests that answered after `list` with the requests they took.
pub(crate) fn time_list(
    server: &TestS3,
    source: &S3Source,
    dir: &str,
    reps: usize,
) -> (Stat, u64, usize) {
    let mut requests = 0;
    let (stat, _, files) = measure(reps, || {
        let before = server.requests();
        let started = Instant::now();
        let files = source.list(dir).expect("list").len();
        let secs = started.elapsed().as_secs_f64();
        requests = server.requests() - before;
        (secs, files)
    });
    (stat, requests, files)
}

/// Lists `raw/<dir>/` with the SDK's plain ListObjectsV2 paginator (no fan-out); returns the keys.
pub(crate) fn paginate(source: &S3Source, bucket: &str, dir: &str) -> usize {
    let request = source
        .client()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(format!("{}/{dir}/", source.location().prefix));
    source.handle().block_on(async move {
        let mut pages = request.into_paginator().send();
        let mut keys = 0;
        while let Some(page) = pages.next().await {
            keys += page.expect("list page").contents().len();
        }
        keys
    })
}

/// GETs `files` with the SDK directly, `concurrency` at a time, in one task on the source's runtime
/// (as `S3Source::fetch` does, but without its channels): in order (`buffered`, like `fetch`) or as
/// they complete (`buffer_unordered`). Returns the bytes read.
pub(crate) fn raw_gets(
    source: &S3Source,
    files: &[InputFile],
    concurrency: usize,
    ordered: bool,
) -> u64 {
    use futures::StreamExt;
    let client = source.client().clone();
    let bucket = source.location().bucket.clone();
    let keys: Vec<String> = files
        .iter()
        .map(|f| source.location().key(&f.name))
        .collect();
    let task = source.handle().spawn(async move {
        let gets = futures::stream::iter(keys).map(|key| {
            let request = client.get_object().bucket(&bucket).key(key);
            async move {
                let out = request.send().await.expect("GET");
                let body = out.body.collect().await.expect("GET body");
                black_box(body.into_bytes()).len() as u64
            }
        });
        if ordered {
            gets.buffered(concurrency)
                .fold(0, |n, b| async move { n + b })
                .await
        } else {
            gets.buffer_unordered(concurrency)
                .fold(0, |n, b| async move { n + b })
                .await
        }
    });
    source.handle().block_on(task).expect("GET task")
}
