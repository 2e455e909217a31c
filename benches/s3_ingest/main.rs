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

#[path = "../../tests/common/s3.rs"]
mod s3;

mod latency;
mod measure;
mod setup;
mod throughput;

use std::str::FromStr;
use std::time::{Duration, Instant};

use s3::TestS3;

use crate::latency::latency_part;
use crate::throughput::throughput_part;

/// Channel depth between `fetch` and the draining thread (the transform's read-ahead).
pub(crate) const CHANNEL: usize = 64;

/// GETs timed one at a time by the probe of part 1.
pub(crate) const PROBE_GETS: usize = 200;

/// Bench parameters, from `SPARKIFY_BENCH_*` environment variables.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) songs: u64,
    pub(crate) latency: Duration,
    pub(crate) concurrency: Vec<usize>,
    pub(crate) log_events: u64,
    pub(crate) log_days: u32,
    pub(crate) reps: usize,
    pub(crate) latency_part: bool,
    pub(crate) throughput_part: bool,
}

pub(crate) fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

impl Config {
    pub(crate) fn from_env() -> Self {
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
