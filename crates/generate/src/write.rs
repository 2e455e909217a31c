//! File writing: output folders, song files, one log file per day, and the worker threads.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::calendar::date_of;
use super::catalog::{build_pool, Catalog};
use super::events::{day_events, LogCtx, Page, FLAG_MATCHED};
use super::format::{push_event, push_song_file};
use super::sessions::{build_users, day_event_counts, plan_sessions, EVENTS_PER_USER};
use super::{Error, GenerateOptions, Result};

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The file that marks a folder as written by `sparkify generate`, so that a later run may
/// replace it. It is hidden: readers of the data skip it.
pub const MARKER: &str = ".sparkify-generated";

/// Whether `dir` may be replaced: it does not exist, is an empty folder, or was written by
/// `generate` (it holds [`MARKER`]). A folder of anything else is the user's data: refused.
pub(super) fn check_replaceable(dir: &Path) -> Result<()> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let refused = |reason: &str| Error::Refused {
        path: dir.display().to_string(),
        reason: reason.to_string(),
    };
    if !meta.is_dir() {
        return Err(refused("it is not a folder"));
    }
    if dir.join(MARKER).is_file() {
        return Ok(());
    }
    let mut entries = fs::read_dir(dir).map_err(io_err(dir))?;
    match entries.next() {
        None => Ok(()),
        Some(_) => Err(refused(
            "it holds files that `sparkify generate` did not write; choose an empty or new folder",
        )),
    }
}

/// Removes `dir` (checked by [`check_replaceable`]) if it exists, then creates it (and its
/// parents) empty but for the marker, so that a run killed half-way can be replaced too.
pub(super) fn reset_dir(dir: &Path) -> Result<()> {
    check_replaceable(dir)?;
    if fs::symlink_metadata(dir).is_ok() {
        fs::remove_dir_all(dir).map_err(io_err(dir))?;
    }
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let marker = dir.join(MARKER);
    fs::write(
        &marker,
        b"written by sparkify generate; the folder is replaced by the next run\n",
    )
    .map_err(io_err(&marker))
}

/// Runs `job(0..jobs)` on up to `threads` scoped threads; results come back in job order.
fn parallel_map<T: Send>(
    jobs: usize,
    threads: usize,
    job: &(dyn Fn(usize) -> Result<T> + Sync),
) -> Result<Vec<T>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || -> Result<Vec<(usize, T)>> {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= jobs {
                break;
            }
            match job(i) {
                Ok(value) => done.push((i, value)),
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(done)
    };
    let mut results = Vec::with_capacity(jobs);
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = (0..threads.clamp(1, jobs.max(1)))
            .map(|_| scope.spawn(worker))
            .collect();
        let mut first_err = None;
        for handle in handles {
            match handle.join() {
                Ok(Ok(done)) => results.extend(done),
                Ok(Err(e)) => first_err = first_err.or(Some(e)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        first_err.map_or(Ok(()), Err)
    })?;
    results.sort_unstable_by_key(|r| r.0);
    Ok(results.into_iter().map(|r| r.1).collect())
}

fn song_dir(root: &Path, dir: [u8; 3]) -> PathBuf {
    let mut path = root.to_path_buf();
    for letter in dir {
        path.push(char::from(letter).to_string());
    }
    path
}

/// Songs written per parallel job.
const SONG_CHUNK: usize = 512;

/// Writes all song files; returns the bytes written.
pub(super) fn write_songs(catalog: &Catalog, root: &Path, threads: usize) -> Result<u64> {
    let mut dirs: Vec<[u8; 3]> = catalog.songs.iter().map(|s| s.dir).collect();
    dirs.sort_unstable();
    dirs.dedup();
    for dir in dirs {
        let path = song_dir(root, dir);
        fs::create_dir_all(&path).map_err(io_err(&path))?;
    }
    let chunks = catalog.songs.len().div_ceil(SONG_CHUNK);
    let job = |chunk: usize| -> Result<u64> {
        let end = ((chunk + 1) * SONG_CHUNK).min(catalog.songs.len());
        let mut buf = Vec::with_capacity(1024);
        let mut bytes = 0;
        for i in chunk * SONG_CHUNK..end {
            let song = &catalog.songs[i];
            let mut path = song_dir(root, song.dir);
            path.push(format!("{}.json", song.track_id));
            buf.clear();
            push_song_file(&mut buf, catalog, i);
            fs::write(&path, &buf).map_err(io_err(&path))?;
            bytes += buf.len() as u64;
        }
        Ok(bytes)
    };
    Ok(parallel_map(chunks, threads, &job)?.into_iter().sum())
}

/// What a day (or the whole run) wrote.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct LogStats {
    pub(super) files: u64,
    pub(super) events: u64,
    pub(super) next_songs: u64,
    pub(super) matched: u64,
    pub(super) bytes: u64,
}

/// `log_data/YYYY/MM/YYYY-MM-DD-events.json` for day index `day`.
fn log_path(root: &Path, day: usize) -> PathBuf {
    let (y, m, d) = date_of(day as u64);
    root.join(format!("{y:04}"))
        .join(format!("{m:02}"))
        .join(format!("{y:04}-{m:02}-{d:02}-events.json"))
}

/// Bytes formatted before they are handed to the file writer.
const LOG_CHUNK: usize = 1 << 20;

/// Writes the log file of day `day` (none if the day has no events).
fn write_day(ctx: &LogCtx, day: usize) -> Result<LogStats> {
    let events = day_events(ctx, day);
    let mut stats = LogStats::default();
    if events.is_empty() {
        return Ok(stats);
    }
    let path = log_path(ctx.root, day);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let file = fs::File::create(&path).map_err(io_err(&path))?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    let mut buf = Vec::with_capacity(LOG_CHUNK + 4096);
    for (i, ev) in events.iter().enumerate() {
        if i > 0 {
            buf.push(b'\n');
        }
        push_event(&mut buf, ev, ctx);
        if buf.len() >= LOG_CHUNK {
            w.write_all(&buf).map_err(io_err(&path))?;
            stats.bytes += buf.len() as u64;
            buf.clear();
        }
        if ev.page == Page::NextSong {
            stats.next_songs += 1;
            stats.matched += u64::from(ev.flags & FLAG_MATCHED != 0);
        }
    }
    w.write_all(&buf).map_err(io_err(&path))?;
    w.flush().map_err(io_err(&path))?;
    stats.bytes += buf.len() as u64;
    stats.files = 1;
    stats.events = events.len() as u64;
    Ok(stats)
}

/// Plans the sessions and writes all log files.
pub(super) fn write_logs(
    opts: &GenerateOptions,
    catalog: &Catalog,
    root: &Path,
    threads: usize,
) -> Result<LogStats> {
    let n_users = opts.events.div_ceil(EVENTS_PER_USER).max(1) as usize;
    let (users, cumulative) = build_users(opts.seed, n_users);
    let pool_size = (opts.events / 3).clamp(64, 200_000) as usize;
    let pool = build_pool(opts.seed, &catalog.songs, pool_size);
    let counts = day_event_counts(opts.seed, opts.events, opts.days as usize);
    let plan = plan_sessions(opts.seed, &counts, &users, &cumulative);
    let ctx = LogCtx {
        seed: opts.seed,
        match_rate: opts.match_rate,
        matchable: &catalog.matchable,
        pool: &pool,
        users: &users,
        plan: &plan,
        root,
    };
    let per_day = parallel_map(plan.days.len(), threads, &|day| write_day(&ctx, day))?;
    Ok(per_day.iter().fold(LogStats::default(), |acc, s| LogStats {
        files: acc.files + s.files,
        events: acc.events + s.events,
        next_songs: acc.next_songs + s.next_songs,
        matched: acc.matched + s.matched,
        bytes: acc.bytes + s.bytes,
    }))
}
