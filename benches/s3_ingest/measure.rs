//! Timing, medians and CPU time per thread.

use std::hint::black_box;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use sparkify::source::{InputFile, Source};

use crate::CHANNEL;

/// Median and best of a set of timings, in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stat {
    pub(crate) median: f64,
    pub(crate) best: f64,
}

impl Stat {
    pub(crate) fn of(mut secs: Vec<f64>) -> Self {
        secs.sort_by(f64::total_cmp);
        Self {
            median: secs[secs.len() / 2],
            best: secs[0],
        }
    }

    /// `median [best]` in milliseconds.
    pub(crate) fn ms(&self) -> String {
        format!("{} [{}]", ms(self.median), ms(self.best))
    }
}

pub(crate) fn ms(s: f64) -> String {
    format!("{:.0}", s * 1e3)
}

/// CPU seconds used by the process, split by thread name.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cpu {
    /// Threads of the client's runtime (`sparkify-s3`, workers and blocking pool).
    pub(crate) client: f64,
    /// Threads of the test server's runtime (`tokio-rt-worker`, workers and blocking pool).
    pub(crate) server: f64,
    /// The whole process, exited threads included.
    pub(crate) total: f64,
}

impl Cpu {
    /// Now (Linux: `/proc/self`; zeros elsewhere). Threads that exit between two readings take their
    /// time out of `client` / `server` but not out of `total`.
    pub(crate) fn now() -> Self {
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

    pub(crate) fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            client: (self.client - earlier.client).max(0.0),
            server: (self.server - earlier.server).max(0.0),
            total: (self.total - earlier.total).max(0.0),
        }
    }

    /// `client / server / other` CPU milliseconds per run, over `runs` runs.
    pub(crate) fn per_run(&self, runs: usize) -> String {
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
pub(crate) struct Drained {
    pub(crate) files: usize,
    pub(crate) bytes: u64,
    /// Seconds from the start of the fetch until each file arrived.
    pub(crate) arrivals: Vec<f64>,
    /// Seconds until the fetch returned.
    pub(crate) total: f64,
}

/// Fetches `files` from `source` on a thread of its own and drains the channel here, checking the
/// order.
pub(crate) fn fetch_all(source: &dyn Source, files: &[InputFile]) -> Drained {
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
pub(crate) fn measure<T>(reps: usize, mut run: impl FnMut() -> (f64, T)) -> (Stat, Cpu, T) {
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
