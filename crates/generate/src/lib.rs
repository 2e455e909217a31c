//! Deterministic synthetic Sparkify data (`sparkify generate`).
//!
//! [`generate`] writes a `song_data/` tree in the S3 format and a `log_data/` tree of
//! NDJSON event logs under [`GenerateOptions::output`]. Both copy the formats and the
//! oddities of the public Udacity data set (see `data/NOTES.md`):
//!
//! * **Songs:** `song_data/<L1>/<L2>/<L3>/TR<L1><L2><L3>….json`, one compact object per
//!   file with the keys sorted, `\u00e9`-style escapes and `\/` slashes. Coordinates are
//!   often null, locations often `""`, years often 0. A few `artist_name` /
//!   `artist_location` values are JSON numbers, a few values have leading or trailing
//!   spaces, a few artist ids carry a different name or location on a later song, a few
//!   files are pretty-printed with a 4-space indent and a very few hold a second object (a
//!   copy of another song that also has its own file) after the first.
//! * **Logs:** `log_data/YYYY/MM/YYYY-MM-DD-events.json`, one compact object per line with
//!   the 18 keys in the real order and no newline after the last line. Events are sorted by
//!   `ts` and lie within the file's UTC day. Logged-out events have `userId` `""` and null
//!   user fields, user agents carry their CSV-style quotes, levels change on the event after
//!   a `Submit Upgrade` / `Submit Downgrade`, and non-ASCII text of unmatched songs is
//!   double-encoded mojibake, as in the real logs.
//!
//! A share [`GenerateOptions::match_rate`] of `NextSong` events copies a generated song's
//! `title`, `artist_name` and `duration` text exactly; all other `NextSong` events use a
//! pool of tracks checked to match no song (some share a song's title, or its title and
//! artist with another length), so [`GenerateSummary::matched_events`] is exact.
//!
//! Output depends only on the options: the PRNG is a hand-written xoshiro256** seeded
//! through SplitMix64, floating point is limited to exactly rounded operations, and every
//! day, session and song chunk uses its own stream, so the thread count changes no byte.

mod calendar;
mod catalog;
mod events;
mod format;
mod json;
mod names;
mod rng;
mod sessions;
#[cfg(test)]
mod tests;
mod vocab;
mod write;

use std::path::PathBuf;

use catalog::Catalog;
pub use write::MARKER;
use write::{check_replaceable, reset_dir, write_logs, write_songs};

/// Options for `sparkify generate`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Folder to write into; its `song_data` and `log_data` subfolders are replaced when they do
    /// not exist, are empty or were written by `generate` (else the run is refused).
    pub output: std::path::PathBuf,
    /// Number of song files.
    pub songs: u64,
    /// Total number of log events, all pages.
    pub events: u64,
    /// Seed of the generator: the same options give byte-identical output.
    pub seed: u64,
    /// Share of `NextSong` events matching a song, `0.0..=1.0`.
    pub match_rate: f64,
    /// Number of days, starting 2018-11-01, that the events are spread over.
    pub days: u32,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            output: PathBuf::from("generated"),
            songs: 1_000,
            events: 100_000,
            seed: 42,
            match_rate: 0.5,
            days: 30,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Number of song files written.
    pub song_files: u64,
    /// Number of log files written (days without events get none).
    pub log_files: u64,
    /// Number of log events (lines) written.
    pub events: u64,
    /// Number of `NextSong` events.
    pub next_song_events: u64,
    /// `NextSong` events whose (song, artist, length) equal a song's (title, artist_name, duration).
    pub matched_events: u64,
    /// Total bytes written to song and log files.
    pub bytes: u64,
}

/// Errors of [`generate`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Creating, removing or writing a file or folder failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder concerned.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An option is out of range.
    #[error("invalid generate option: {0}")]
    Invalid(String),
    /// `song_data` or `log_data` of the output holds data that `generate` did not write.
    #[error("refusing to replace {path}: {reason}")]
    Refused {
        /// The folder.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Generates song and log files as described in the [module docs](self).
///
/// Replaces `song_data` and `log_data` in `opts.output` (creating the folder if needed); a folder
/// holding anything `generate` did not write is [`Error::Refused`], and nothing is touched.
/// `songs: 0` writes an empty `song_data` (no event matches); `events: 0` writes an empty
/// `log_data`; both at 0 is [`Error::Invalid`].
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    generate_with_threads(opts, worker_threads())
}

/// Most worker threads used for writing files.
const MAX_THREADS: usize = 2;
/// Largest accepted `songs`.
const MAX_SONGS: u64 = 50_000_000;
/// Largest accepted `events`.
const MAX_EVENTS: u64 = 2_000_000_000;
/// Largest accepted `days`.
const MAX_DAYS: u32 = 36_500;

fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
}

fn generate_with_threads(opts: &GenerateOptions, threads: usize) -> Result<GenerateSummary> {
    validate(opts)?;
    let song_root = opts.output.join("song_data");
    let log_root = opts.output.join("log_data");
    // Both are checked before either is touched.
    check_replaceable(&song_root)?;
    check_replaceable(&log_root)?;
    reset_dir(&song_root)?;
    reset_dir(&log_root)?;

    let catalog = Catalog::build(opts.seed, opts.songs as usize);
    let song_bytes = write_songs(&catalog, &song_root, threads)?;
    let mut summary = GenerateSummary {
        song_files: opts.songs,
        log_files: 0,
        events: 0,
        next_song_events: 0,
        matched_events: 0,
        bytes: song_bytes,
    };
    if opts.events > 0 {
        let logs = write_logs(opts, &catalog, &log_root, threads)?;
        summary.log_files = logs.files;
        summary.events = logs.events;
        summary.next_song_events = logs.next_songs;
        summary.matched_events = logs.matched;
        summary.bytes += logs.bytes;
    }
    Ok(summary)
}

fn validate(opts: &GenerateOptions) -> Result<()> {
    let invalid = |msg: String| Err(Error::Invalid(msg));
    if opts.output.as_os_str().is_empty() {
        return invalid("output folder is empty".into());
    }
    if opts.songs == 0 && opts.events == 0 {
        return invalid("songs and events are both 0, nothing to generate".into());
    }
    if opts.songs > MAX_SONGS {
        return invalid(format!("songs = {} exceeds {MAX_SONGS}", opts.songs));
    }
    if opts.events > MAX_EVENTS {
        return invalid(format!("events = {} exceeds {MAX_EVENTS}", opts.events));
    }
    if !(0.0..=1.0).contains(&opts.match_rate) {
        return invalid(format!(
            "match_rate = {} is not within 0..=1",
            opts.match_rate
        ));
    }
    if opts.days == 0 || opts.days > MAX_DAYS {
        return invalid(format!("days = {} is not within 1..={MAX_DAYS}", opts.days));
    }
    Ok(())
}
