//! S3 ingestion against the in-process S3 server of the tests (`tests/common/s3.rs`: s3s + s3s-fs on
//! 127.0.0.1, SigV4), printed as plain tables. Two parts:
//!
//! 1. **Latency-bound** (`latency`): `SPARKIFY_BENCH_SONGS` (2,000) generated song files plus a few
//!    small log files, served with `SPARKIFY_BENCH_LATENCY_MS` (20 ms) added to every GET (object GETs
//!    *and* ListObjectsV2, which is a GET too). For each concurrency of `SPARKIFY_BENCH_CONCURRENCY`
//!    (`16,64,128`) it times `list("song_data")` and a `fetch` of every listed file (the channel
//!    drained on this thread) and compares them with the ideal `files × latency / concurrency`.
//!    For reference: the SDK's plain ListObjectsV2 paginator, raw SDK GETs at concurrency 64 in
//!    order and unordered (no `S3Source` channels), the same listing and fetch without latency, and
//!    one GET at a time (the gaps between arrivals are the request latencies). Then the full
//!    `run::transform` over that source at concurrency 64, and from the local folder.
//! 2. **Throughput** (`throughput`): `SPARKIFY_BENCH_LOG_EVENTS` (600,000) events over
//!    `SPARKIFY_BENCH_LOG_DAYS` (3) days, i.e. a few log objects of ~90 MB, uploaded with PutObject
//!    and served without latency. Times a `fetch` of `log_data` (MB/s, against the same fetch from the
//!    local folder), and the full transform S3 → local folder against local folder → local folder.
//!
//! Every measurement runs once to warm up, then `SPARKIFY_BENCH_REPS` (3) times; the tables show the
//! median and, in brackets, the best run. Fetch rows also split the CPU time of the measured runs
//! between the client's runtime threads (`sparkify-s3`), the server's (`tokio-rt-worker`) and the
//! rest (Linux only). `SPARKIFY_BENCH_PART=latency|throughput` runs one part only. Only 127.0.0.1 is
//! contacted; the whole run takes about 2–3 minutes.
//!
//! ```text
//! cargo bench --bench s3_ingest
//! SPARKIFY_BENCH_PART=latency SPARKIFY_BENCH_SONGS=5000 SPARKIFY_BENCH_REPS=5 cargo bench --bench s3_ingest
//! ```
//!
//! The server runs in this process on a 2-thread runtime of its own, so client and server share the
//! machine's cores: the numbers are a lower bound of what the client does against a remote S3.

#[path = "../tests/common/s3.rs"]
mod s3;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use s3::{Faults, TestS3};
use sparkify::run::{transform, TransformOptions};
use sparkify::s3::{S3Location, S3Settings, StaticCredentials};
use sparkify::sink::rejects::RejectSink;
use sparkify::source::local::LocalSource;
use sparkify::source::s3::S3Source;
use sparkify::source::{InputFile, Source};
use sparkify::summary::RunSummary;
use sparkify::Progress;
use sparkify_generate::{generate, GenerateOptions};

/// Channel depth between `fetch` and the draining thread (the transform's read-ahead).
const CHANNEL: usize = 64;

/// GETs timed one at a time by the probe of part 1.
const PROBE_GETS: usize = 200;

/// Bench parameters, from `SPARKIFY_BENCH_*` environment variables.
#[derive(Debug, Clone)]
struct Config {
    songs: u64,
    latency: Duration,
    concurrency: Vec<usize>,
    log_events: u64,
    log_days: u32,
    reps: usize,
    latency_part: bool,
    throughput_part: bool,
}

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

impl Config {
    fn from_env() -> Self {
        let concurrency = std::env::var("SPARKIFY_BENCH_CONCURRENCY")
            .unwrap_or_else(|_| "16,64,128".into())
            .split(',')
            .map(|c| {
                c.trim()
                    .parse()
                    .expect("SPARKIFY_BENCH_CONCURRENCY: comma-separated numbers")
            })
            .collect();
        let part = std::env::var("SPARKIFY_BENCH_PART").unwrap_or_default();
        Self {
            songs: env_or("SPARKIFY_BENCH_SONGS", 2_000),
            latency: Duration::from_millis(env_or("SPARKIFY_BENCH_LATENCY_MS", 20)),
            concurrency,
            log_events: env_or("SPARKIFY_BENCH_LOG_EVENTS", 600_000),
            log_days: env_or("SPARKIFY_BENCH_LOG_DAYS", 3),
            reps: env_or("SPARKIFY_BENCH_REPS", 3usize).max(1),
            latency_part: part.is_empty() || part == "latency",
            throughput_part: part.is_empty() || part == "throughput",
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------------

/// Median and best of a set of timings, in seconds.
#[derive(Debug, Clone, Copy)]
struct Stat {
    median: f64,
    best: f64,
}

impl Stat {
    fn of(mut secs: Vec<f64>) -> Self {
        secs.sort_by(f64::total_cmp);
        Self {
            median: secs[secs.len() / 2],
            best: secs[0],
        }
    }

    /// `median [best]` in milliseconds.
    fn ms(&self) -> String {
        format!("{} [{}]", ms(self.median), ms(self.best))
    }
}

fn ms(s: f64) -> String {
    format!("{:.0}", s * 1e3)
}

/// CPU seconds used by the process, split by thread name.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    /// Threads of the client's runtime (`sparkify-s3`, workers and blocking pool).
    client: f64,
    /// Threads of the test server's runtime (`tokio-rt-worker`, workers and blocking pool).
    server: f64,
    /// The whole process, exited threads included.
    total: f64,
}

impl Cpu {
    /// Now (Linux: `/proc/self`; zeros elsewhere). Threads that exit between two readings take their
    /// time out of `client` / `server` but not out of `total`.
    fn now() -> Self {
        let ticks = 100.0; // USER_HZ
        let times = |stat: &str| -> Option<(String, f64)> {
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((stat[open + 1..close].to_string(), (utime + stime) / ticks))
        };
        let mut cpu = Cpu::default();
        if let Some((_, t)) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| times(&s))
        {
            cpu.total = t;
        }
        for task in std::fs::read_dir("/proc/self/task").into_iter().flatten() {
            let Ok(task) = task else { continue };
            let Some((name, t)) = std::fs::read_to_string(task.path().join("stat"))
                .ok()
                .and_then(|s| times(&s))
            else {
                continue;
            };
            if name.starts_with("sparkify-s3") {
                cpu.client += t;
            } else if name.starts_with("tokio-") || name.starts_with("test-s3") {
                cpu.server += t;
            }
        }
        cpu
    }

    fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            client: (self.client - earlier.client).max(0.0),
            server: (self.server - earlier.server).max(0.0),
            total: (self.total - earlier.total).max(0.0),
        }
    }

    /// `client / server / other` CPU milliseconds per run, over `runs` runs.
    fn per_run(&self, runs: usize) -> String {
        let n = runs as f64;
        let other = (self.total - self.client - self.server).max(0.0);
        format!(
            "{} / {} / {}",
            ms(self.client / n),
            ms(self.server / n),
            ms(other / n)
        )
    }
}

/// What one drained fetch saw.
#[derive(Debug, Clone, Default)]
struct Drained {
    files: usize,
    bytes: u64,
    /// Seconds from the start of the fetch until each file arrived.
    arrivals: Vec<f64>,
    /// Seconds until the fetch returned.
    total: f64,
}

/// Fetches `files` from `source` on a thread of its own and drains the channel here, checking the
/// order.
fn fetch_all(source: &dyn Source, files: &[InputFile]) -> Drained {
    let started = Instant::now();
    let (tx, rx) = sync_channel(CHANNEL);
    std::thread::scope(|scope| {
        scope.spawn(move || source.fetch(files, tx));
        let mut out = Drained {
            arrivals: Vec::with_capacity(files.len()),
            ..Drained::default()
        };
        for item in rx {
            let f = item.expect("fetch failed");
            assert_eq!(f.index, out.files, "fetch out of order");
            out.arrivals.push(started.elapsed().as_secs_f64());
            out.files += 1;
            out.bytes += black_box(f.bytes).len() as u64;
        }
        out.total = started.elapsed().as_secs_f64();
        assert_eq!(out.files, files.len(), "fetch delivered too few files");
        out
    })
}

/// Runs `run` once to warm up and then `reps` times; returns the timings it reports, the CPU the
/// measured runs used and the last value it returned.
fn measure<T>(reps: usize, mut run: impl FnMut() -> (f64, T)) -> (Stat, Cpu, T) {
    black_box(run());
    let mut secs = Vec::with_capacity(reps);
    let mut last = None;
    let cpu = Cpu::now();
    for _ in 0..reps {
        let (s, v) = run();
        secs.push(s);
        last = Some(black_box(v));
    }
    let cpu = Cpu::now().since(cpu);
    (Stat::of(secs), cpu, last.expect("at least one rep"))
}

// ---------------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------------

fn settings(server: &TestS3) -> S3Settings {
    S3Settings {
        region: Some(s3::REGION.to_string()),
        endpoint_url: Some(server.endpoint.clone()),
        credentials: Some(StaticCredentials::new(
            &server.access_key,
            &server.secret_key,
        )),
        force_path_style: Some(true),
        ..S3Settings::default()
    }
}

fn connect(server: &TestS3, url: &str, concurrency: usize) -> S3Source {
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

fn with_latency(server: &TestS3, latency: Duration) {
    server.set_faults(Faults {
        get_latency: latency,
        ..Faults::default()
    });
}

/// Every file under `root`, as a `/`-separated relative name and its path.
fn walk(root: &Path) -> Vec<(String, PathBuf)> {
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

fn generate_into(root: &Path, songs: u64, events: u64, days: u32) {
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
fn run_transform(source: &dyn Source) -> (f64, RunSummary) {
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

fn stages(summary: &RunSummary) -> String {
    summary
        .stages
        .iter()
        .map(|(name, s)| format!("{name} {} ms", ms(*s)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Median and number of requests that answered after `list` with the requests they took.
fn time_list(server: &TestS3, source: &S3Source, dir: &str, reps: usize) -> (Stat, u64, usize) {
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
fn paginate(source: &S3Source, bucket: &str, dir: &str) -> usize {
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
fn raw_gets(source: &S3Source, files: &[InputFile], concurrency: usize, ordered: bool) -> u64 {
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

// ---------------------------------------------------------------------------------------------------
// Part 1
// ---------------------------------------------------------------------------------------------------

fn latency_part(cfg: &Config, server: &TestS3) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("gen");
    generate_into(&root, cfg.songs, 30_000, 3);
    server.create_bucket("latency");
    for (rel, path) in walk(&root) {
        let bytes = std::fs::read(&path).expect("read generated file");
        server.put("latency", &format!("raw/{rel}"), &bytes);
    }
    let url = "s3://latency/raw";
    let lat = cfg.latency.as_secs_f64();

    println!();
    println!(
        "## 1. Latency-bound ingestion of song_data ({} ms per GET, list pages included)",
        ms(lat)
    );
    println!();
    println!("Times in ms, median of {} [best].", cfg.reps);

    // Listing.
    println!();
    println!("| listing song_data | requests | keys | ms |");
    println!("|---|---:|---:|---:|");
    for (name, latency) in [
        (format!("{} ms per GET", ms(lat)), cfg.latency),
        ("no latency".to_string(), Duration::ZERO),
    ] {
        with_latency(server, latency);
        let source = connect(server, url, 64);
        let (stat, requests, files) = time_list(server, &source, "song_data", cfg.reps);
        println!(
            "| S3Source::list, {name} | {requests} | {files} | {} |",
            stat.ms()
        );
        let mut requests = 0;
        let (stat, _, files) = measure(cfg.reps, || {
            let before = server.requests();
            let started = Instant::now();
            let keys = paginate(&source, "latency", "song_data");
            let secs = started.elapsed().as_secs_f64();
            requests = server.requests() - before;
            (secs, keys)
        });
        println!(
            "| plain SDK pagination, {name} | {requests} | {files} | {} |",
            stat.ms()
        );
    }

    // Fetching.
    println!();
    println!(
        "| concurrency | files | list | fetch | list+fetch | ideal | ratio list+fetch | ratio fetch | files/s | CPU ms client / server / other |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    with_latency(server, cfg.latency);
    for &conc in &cfg.concurrency {
        let source = connect(server, url, conc);
        let (mut lists, mut fetches) = (Vec::new(), Vec::new());
        let (both, cpu, files) = measure(cfg.reps, || {
            let started = Instant::now();
            let listed = source.list("song_data").expect("list song_data");
            lists.push(started.elapsed().as_secs_f64());
            let d = fetch_all(&source, &listed);
            fetches.push(d.total);
            (started.elapsed().as_secs_f64(), listed.len())
        });
        // Drop the warm-up run.
        let (list, fetch) = (Stat::of(lists.split_off(1)), Stat::of(fetches.split_off(1)));
        let ideal = files as f64 * lat / conc as f64;
        println!(
            "| {conc} | {files} | {} | {} | {} | {} | {:.2}× | {:.2}× | {:.0} | {} |",
            list.ms(),
            fetch.ms(),
            both.ms(),
            ms(ideal),
            both.median / ideal,
            fetch.median / ideal,
            files as f64 / fetch.median,
            cpu.per_run(cfg.reps),
        );
    }

    // The SDK alone at concurrency 64: in order (as `fetch`) and as the GETs complete.
    let source = connect(server, url, 64);
    let files = source.list("song_data").expect("list song_data");
    let ideal = files.len() as f64 * lat / 64.0;
    for (name, ordered) in [("ordered", true), ("unordered", false)] {
        let (stat, cpu, _) = measure(cfg.reps, || {
            let started = Instant::now();
            let bytes = raw_gets(&source, &files, 64, ordered);
            (started.elapsed().as_secs_f64(), bytes)
        });
        println!(
            "| 64, raw SDK GETs {name} | {} | – | {} | – | {} | – | {:.2}× | {:.0} | {} |",
            files.len(),
            stat.ms(),
            ms(ideal),
            stat.median / ideal,
            files.len() as f64 / stat.median,
            cpu.per_run(cfg.reps),
        );
    }

    // The same fetch without latency: the fixed cost of a request.
    server.clear_faults();
    let source = connect(server, url, 64);
    let files = source.list("song_data").expect("list song_data");
    let (zero, cpu, _) = measure(cfg.reps, || {
        let d = fetch_all(&source, &files);
        (d.total, d.bytes)
    });
    println!(
        "| 64, no latency | {} | – | {} | – | – | – | – | {:.0} | {} |",
        files.len(),
        zero.ms(),
        files.len() as f64 / zero.median,
        cpu.per_run(cfg.reps),
    );

    // One GET at a time, no latency: the gaps between arrivals are the request latencies.
    let source = connect(server, url, 1);
    let probe = &files[..files.len().min(PROBE_GETS)];
    let (_, _, d) = measure(1, || {
        let d = fetch_all(&source, probe);
        (d.total, d)
    });
    let mut gaps: Vec<f64> = std::iter::once(d.arrivals[0])
        .chain(d.arrivals.windows(2).map(|w| w[1] - w[0]))
        .collect();
    gaps.sort_by(f64::total_cmp);
    let slow = gaps.iter().filter(|&&g| g >= 0.030).count();
    println!(
        "\none GET at a time, no latency, {} small files: median {:.1} ms, p90 {:.1} ms, max {:.1} ms; \
         {slow} of {} took ≥ 30 ms",
        gaps.len(),
        gaps[gaps.len() / 2] * 1e3,
        gaps[gaps.len() * 9 / 10] * 1e3,
        gaps[gaps.len() - 1] * 1e3,
        gaps.len(),
    );

    // The full transform at concurrency 64, with latency, and from the local folder.
    with_latency(server, cfg.latency);
    let source = connect(server, url, 64);
    let (s3_run, _, summary) = measure(cfg.reps, || run_transform(&source));
    server.clear_faults();
    let local = LocalSource::open(&root).expect("open generated folder");
    let (local_run, _, _) = measure(cfg.reps, || run_transform(&local));
    println!();
    println!(
        "full transform ({} song + {} log files, {:.1} MB) → local folder:",
        summary.song_files,
        summary.log_files,
        summary.input_bytes as f64 / 1e6
    );
    println!(
        "  S3, concurrency 64, {} ms per GET: {} ms (ideal song fetch alone {} ms); stages of the \
         last run: {}",
        ms(lat),
        s3_run.ms(),
        ms(summary.song_files as f64 * lat / 64.0),
        stages(&summary)
    );
    println!("  local folder: {} ms", local_run.ms());
}

// ---------------------------------------------------------------------------------------------------
// Part 2
// ---------------------------------------------------------------------------------------------------

fn throughput_part(cfg: &Config, server: &TestS3) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("gen");
    generate_into(&root, 5_000, cfg.log_events, cfg.log_days);
    server.clear_faults();
    server.create_bucket("throughput");
    let url = "s3://throughput/raw";
    let source = connect(server, url, 64);
    // Logs go up with PutObject so that the server keeps their ETag and, like S3, does not hash the
    // whole object on every GET (s3s-fs does for objects written straight into its folder). Songs
    // are small: written straight into the folder.
    let started = Instant::now();
    let mut uploaded = 0u64;
    for (rel, path) in walk(&root) {
        let bytes = std::fs::read(&path).expect("read generated file");
        let key = format!("raw/{rel}");
        if rel.starts_with("log_data/") {
            uploaded += bytes.len() as u64;
            source
                .handle()
                .block_on(
                    source
                        .client()
                        .put_object()
                        .bucket("throughput")
                        .key(&key)
                        .body(ByteStream::from(bytes))
                        .send(),
                )
                .expect("upload log object");
        } else {
            server.put("throughput", &key, &bytes);
        }
    }
    eprintln!(
        "uploaded {:.1} MB of logs in {:.1} s",
        uploaded as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let local = LocalSource::open(&root).expect("open generated folder");
    let files = source.list("log_data").expect("list log_data");
    let sizes: Vec<String> = files
        .iter()
        .map(|f| format!("{:.0}", f.size as f64 / 1e6))
        .collect();
    println!();
    println!(
        "## 2. Throughput without latency: {} log objects of {} MB",
        files.len(),
        sizes.join(" / "),
    );
    println!();
    println!("Times in ms, median of {} [best].", cfg.reps);
    println!();
    println!("| measurement | source | MB | ms | MB/s | CPU ms client / server / other |");
    println!("|---|---|---:|---:|---:|---:|");
    let fetch_row = |name: &str, src: &dyn Source| {
        let files = src.list("log_data").expect("list log_data");
        let (stat, cpu, bytes) = measure(cfg.reps, || {
            let d = fetch_all(src, &files);
            (d.total, d.bytes)
        });
        let mb = bytes as f64 / 1e6;
        println!(
            "| fetch log_data | {name} | {mb:.1} | {} | {:.0} [{:.0}] | {} |",
            stat.ms(),
            mb / stat.median,
            mb / stat.best,
            cpu.per_run(cfg.reps),
        );
        stat
    };
    let s3_fetch = fetch_row("S3, concurrency 64", &source);
    let local_fetch = fetch_row("local folder", &local);

    let (s3_run, s3_cpu, s3_summary) = measure(cfg.reps, || run_transform(&source));
    let (local_run, local_cpu, local_summary) = measure(cfg.reps, || run_transform(&local));
    assert_eq!(
        s3_summary.tables, local_summary.tables,
        "S3 and local transforms disagree"
    );
    let mb = s3_summary.input_bytes as f64 / 1e6;
    for (name, stat, cpu) in [
        ("S3, concurrency 64", s3_run, s3_cpu),
        ("local folder", local_run, local_cpu),
    ] {
        println!(
            "| full transform → local folder | {name} | {mb:.1} | {} | {:.0} [{:.0}] | {} |",
            stat.ms(),
            mb / stat.median,
            mb / stat.best,
            cpu.per_run(cfg.reps),
        );
    }
    let (list_songs, song_list_requests, songs) = time_list(server, &source, "song_data", cfg.reps);
    let mut pages = 0;
    let (paginated, _, _) = measure(cfg.reps, || {
        let before = server.requests();
        let started = Instant::now();
        let keys = paginate(&source, "throughput", "song_data");
        let secs = started.elapsed().as_secs_f64();
        pages = server.requests() - before;
        (secs, keys)
    });
    println!();
    println!(
        "fetch S3 / local: {:.2}×; transform S3 / local: {:.2}× (best runs {:.2}×)",
        s3_fetch.median / local_fetch.median,
        s3_run.median / local_run.median,
        s3_run.best / local_run.best
    );
    println!("stages, S3:    {}", stages(&s3_summary));
    println!("stages, local: {}", stages(&local_summary));
    println!(
        "listing song_data ({songs} keys) alone: S3Source::list {song_list_requests} requests, {} ms; \
         plain SDK pagination {pages} requests, {} ms",
        list_songs.ms(),
        paginated.ms()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing here takes arguments.
    let cfg = Config::from_env();
    eprintln!("{cfg:?}");
    let server = TestS3::start();
    let started = Instant::now();
    if cfg.latency_part {
        latency_part(&cfg, &server);
    }
    if cfg.throughput_part {
        throughput_part(&cfg, &server);
    }
    eprintln!("\ntotal {:.0} s", started.elapsed().as_secs_f64());
}
