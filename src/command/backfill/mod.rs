//! Windowed runs (`--window day|week|month`) and their resumption (`--resume`).
//!
//! The song catalogue is read once; then the selected range is processed one window at a time,
//! in order. Each window's songplays and time rows are built from the log files named for its
//! days (and files without a date, filtered), written as part files of their own, loaded into the
//! target, and published before the next window starts, so that memory holds one window's play
//! ids and start times, not the whole input's. The users seen so far are carried from window to
//! window, so `users` ends up as a one-shot run's.
//!
//! Each window is published like a whole run (see [`crate::sink::publish`]): a fresh staging
//! folder holds the window's new parts, hard links to the previous output's parts, the users so
//! far and the state file [`STATE_FILE`], and is switched in with one atomic exchange. So after a
//! SIGKILL at any moment the output holds every window up to some window, complete, and the
//! state file inside it says which: `--resume` reads it and goes on with the next window, the
//! users taken back from the published `users` table.
//!
//! A publish only waits on the disk (flushing the window's files and folders, the exchange,
//! removing the previous output), so it runs on a thread of its own while the next window
//! streams; that window waits for it before it loads, links or publishes anything, so the windows
//! are still published one after the other, in order, each whole.

mod publish;
mod state;

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::pipeline::{failed_dir, keep_rejects, prepare_output};
use crate::plan::TransformPlan;
use crate::schema::{ARTISTS, SONGPLAYS, SONGS, TIME, USERS};
use crate::sink::parquet::TableWriter;
use crate::sink::publish::Staging;
use crate::sink::rejects::{RejectSink, REJECTS_DIR, REJECTS_FILE};
use crate::sink::switch::test_point;
use crate::source::InputFile;
use crate::summary::{EtlSummary, TableSummary, WindowCounts};
use crate::transform::catalog::read_catalog;
use crate::transform::events::{stream_events, EventOutcome, EventSink};
use crate::transform::stream::{finish_events, order_tables, write_table};
use crate::transform::text::Truncations;
use crate::transform::users::UserTracker;
use crate::warehouse::replace_window::LoadScope;
use crate::window::{
    day_of_file, logs_in, named_days, windows_between, EventFilter, Window, WindowSize, STATE_FILE,
};
use crate::{Error, Progress, Result};
use publish::{count_published, files_under, link_tables, next_part, Publishing};
use state::{previous_rejects, read_state, read_users, State};

/// Errors of a windowed run's state.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The state file cannot be read or parsed.
    #[error("cannot read the windowed run's state {path}: {reason}")]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `--resume` with flags other than those of the run that wrote the output.
    #[error("--resume: {path} was written by a windowed run with {found}, not {asked}; rerun without --resume to start over")]
    OtherRun {
        /// The state file.
        path: PathBuf,
        /// The flags recorded in it.
        found: String,
        /// This run's flags.
        asked: String,
    },
    /// The published `users` table cannot be read back.
    #[error("cannot read back {path}: {reason}")]
    Users {
        /// The Parquet file.
        path: PathBuf,
        /// The reader's error.
        reason: String,
    },
    /// Some log files carry no date in their name, so the windows need both range ends.
    #[error(
        "--window needs --since and --until when log files are not named by day (e.g. {file})"
    )]
    Undated {
        /// A log file without a date in its name.
        file: String,
    },
}

/// The windows of `plan` over the listed `logs` (already limited to the range): from the first
/// to the last day the files are named for, within `--since`/`--until`; the whole range when
/// some files carry no date. Never empty: an input without log files in the range gets one
/// empty window, so that its output has every table, as a one-shot run's.
fn plan_windows(size: WindowSize, plan: &TransformPlan, logs: &[InputFile]) -> Result<Vec<Window>> {
    let range = plan.range;
    let undated = logs.iter().find(|f| day_of_file(&f.name).is_none());
    let (first, last) = match (undated, range.since, range.until) {
        (Some(_), Some(since), Some(until)) => (since, until - 1),
        (Some(f), _, _) => {
            return Err(BackfillError::Undated {
                file: f.name.clone(),
            }
            .into())
        }
        (None, since, until) => match named_days(logs.iter().map(|f| day_of_file(&f.name))) {
            Some((lo, hi)) => (
                since.map_or(lo, |s| s.max(lo)),
                until.map_or(hi, |u| (u - 1).min(hi)),
            ),
            None => {
                let at = since.unwrap_or(0);
                return Ok(vec![Window::containing(size, at)]);
            }
        },
    };
    Ok(windows_between(size, first, last))
}

/// The windows a run of `plan` processes, listing its log files as the run does (for
/// `--dry-run`).
pub(crate) fn planned_windows(plan: &TransformPlan, size: WindowSize) -> Result<Vec<Window>> {
    let source = plan.open_source()?;
    let logs = logs_in(source.list("log_data")?, &plan.range);
    plan_windows(size, plan, &logs)
}

/// Runs a windowed `plan` (see the module documentation), calling `load` with each window's
/// folder before it is published: its songplays and time parts, the users so far, the songs and
/// artists. `load`'s last argument says whether the window starts the output (a replacing load
/// may clear the tables; later windows add to it) and which events it holds (the window's part
/// of the run's range, which a window replace clears).
pub fn execute_windows(
    plan: &TransformPlan,
    size: WindowSize,
    progress: &Progress,
    mut load: impl FnMut(&Path, &mut EtlSummary, LoadScope) -> Result<()>,
) -> Result<EtlSummary> {
    let (output, _lock) = prepare_output(plan)?;
    let source = plan.open_source()?;
    let mut summary = EtlSummary {
        input: source.describe(),
        output: output.display().to_string(),
        ..EtlSummary::default()
    };
    let started = Instant::now();
    let listed = source.list("log_data")?;
    let any_logs = !listed.is_empty();
    let logs = logs_in(listed, &plan.range);
    let windows = plan_windows(size, plan, &logs)?;
    summary
        .stages
        .push(("list".into(), started.elapsed().as_secs_f64()));

    let state = State {
        input: plan.input.to_string(),
        window: size,
        range: plan.range,
        done_until: i64::MIN,
    };
    let done_until = match plan
        .resume
        .then(|| read_state(&output))
        .transpose()?
        .flatten()
    {
        Some(found)
            if State {
                done_until: i64::MIN,
                ..found.clone()
            } != state =>
        {
            return Err(BackfillError::OtherRun {
                path: output.join(STATE_FILE),
                found: found.flags(),
                asked: state.flags(),
            }
            .into())
        }
        Some(found) => found.done_until,
        None => i64::MIN,
    };
    let skipped = windows.iter().take_while(|w| w.end <= done_until).count();
    summary.windows = Some(WindowCounts {
        done: 0,
        skipped: skipped as u64,
    });
    if skipped == windows.len() {
        summary.output = output.display().to_string();
        return Ok(summary);
    }
    let resumed = skipped > 0;

    // The catalogue, once; its rejects go to the first window's folder (any rerun rewrites them).
    let started = Instant::now();
    let mut cuts = Truncations::default();
    let first_stage = Staging::new(&output)?;
    let catalog_rejects =
        RejectSink::create_as(first_stage.path(), REJECTS_FILE, plan.max_bad_records)?;
    let catalog = read_catalog(
        source.as_ref(),
        progress,
        &mut summary,
        &catalog_rejects,
        &mut cuts,
    );
    let catalog = match catalog {
        Ok(catalog) => catalog,
        Err(e) => return Err(failed(e, first_stage, plan, &output)),
    };
    if summary.song_files == 0 && !any_logs {
        return Err(crate::source::no_input(source.as_ref()).into());
    }
    summary.duplicate_songs = catalog.duplicate_songs;
    let mut rejected = catalog_rejects.finish()?.count + previous_rejects(&output, resumed)?;
    summary
        .stages
        .push(("songs".into(), started.elapsed().as_secs_f64()));

    let started = Instant::now();
    let mut users = if resumed {
        read_users(&output)?
    } else {
        UserTracker::default()
    };
    let mut totals = Totals::default();
    let total_files: usize = windows[skipped..]
        .iter()
        .map(|w| files_of(&logs, w).len())
        .sum();
    let mut files_done = 0;
    let mut next_stage = Some(first_stage);
    // The part numbers the next window's songplays and time files start at: after those of the
    // output so far (counted here, so that a window streams while the previous one publishes).
    let mut parts = if resumed {
        [
            next_part(&output.join(SONGPLAYS.name))?,
            next_part(&output.join(TIME.name))?,
        ]
    } else {
        [0, 0]
    };
    let mut publishing = Publishing::default();
    for (at, window) in windows.iter().enumerate().skip(skipped) {
        let first = at == skipped;
        let stage = match next_stage.take() {
            Some(stage) => stage,
            None => Staging::new(&output)?,
        };
        let dir = stage.path().to_path_buf();
        let files = files_of(&logs, window);
        // The output so far, which this window adds to (nothing for the first window of a
        // fresh run).
        let base = (resumed || !first).then_some(output.as_path());
        if first {
            for (table, batch) in [(&SONGS, &catalog.songs), (&ARTISTS, &catalog.artists)] {
                totals.add(write_table(&dir, table, batch, plan.writer, false)?);
            }
        }
        let event_rejects = RejectSink::create_as(
            &dir,
            &format!(
                "part-{:05}.ndjson",
                window.start / crate::window::DAY_MS + 1
            ),
            plan.max_bad_records.saturating_sub(rejected),
        )?;
        let bar = progress.window(&window.label(size), files_done, total_files);
        files_done += files.len();
        let input = WindowInput {
            source: source.as_ref(),
            files: &files,
            catalog: &catalog,
            window,
            parts,
        };
        let users_so_far = std::mem::take(&mut users);
        let outcome = stream_window(&dir, &input, plan, users_so_far, bar, &event_rejects);
        // The previous window is published before this one goes on: its load, links and state
        // build on the output as that window left it.
        if publishing.wait()? {
            count_published(&mut summary);
        }
        let (tables, window_users) = match outcome {
            Ok((tables, users, counts)) => {
                counts.count_into(&mut summary, &mut cuts);
                (tables, users)
            }
            Err(e) => return Err(failed(e, stage, plan, &output)),
        };
        users = window_users;
        rejected += event_rejects.finish()?.count;
        for t in tables {
            if t.name == SONGPLAYS.name {
                parts[0] += t.files as usize;
            } else if t.name == TIME.name {
                parts[1] += t.files as usize;
            }
            totals.add(t);
        }
        test_point(&format!("window-{at}-written"));
        // The files this window wrote, to flush; the rest of its folder will be hard links to
        // the published output's files, which are on disk already.
        let written = files_under(&dir)?;
        if !first {
            link_tables(&output, &dir, &["songs", "artists"])?;
        }
        let scope = LoadScope {
            starts: base.is_none(),
            range: plan.range.within(window.start, window.end),
        };
        load(&dir, &mut summary, scope)?;
        if let Some(base) = base {
            link_tables(base, &dir, &["songplays", "time", REJECTS_DIR])?;
        }
        let state = State {
            done_until: window.end,
            ..state.clone()
        };
        publishing.start(at, stage, written, state)?;
    }
    if publishing.wait()? {
        count_published(&mut summary);
    }
    summary
        .stages
        .push(("events".into(), started.elapsed().as_secs_f64()));
    summary.log_files = total_files as u64;
    summary.rejected = rejected;
    summary.skipped_files = source.skipped();
    summary.truncated = cuts.0;
    summary.tables = order_tables(totals.0);
    if rejected > 0 {
        let dir = output.join(REJECTS_DIR);
        summary.rejects_file = Some(dir.display().to_string());
    }
    Ok(summary)
}

/// What one window reads.
struct WindowInput<'a> {
    source: &'a dyn crate::source::Source,
    /// Its log files.
    files: &'a [InputFile],
    catalog: &'a crate::transform::dims::SongCatalog,
    window: &'a Window,
    /// The numbers of its first songplays and time part files (after those of the output so
    /// far).
    parts: [usize; 2],
}

/// Streams one window's events into `dir`: songplays and time parts numbered after those of
/// the output so far, users (`users` so far and this window's) whole. Returns the tables
/// written, the users so far, and the window's counts (with the text cuts of `users`).
fn stream_window(
    dir: &Path,
    input: &WindowInput<'_>,
    plan: &TransformPlan,
    users: UserTracker,
    bar: indicatif::ProgressBar,
    rejects: &RejectSink,
) -> Result<(Vec<TableSummary>, UserTracker, crate::summary::EventCounts)> {
    let songplays = TableWriter::new(dir, &SONGPLAYS, plan.writer)?.starting_at(input.parts[0]);
    let time = TableWriter::new(dir, &TIME, plan.writer)?.starting_at(input.parts[1]);
    let filter = EventFilter {
        keep: plan.range.within(input.window.start, input.window.end),
        range: plan.range,
        windowed: true,
    };
    let sink = EventSink {
        songplays,
        users,
        bar,
    };
    let (source, files, catalog) = (input.source, input.files, input.catalog);
    let events = stream_events(source, files, catalog, &filter, sink, rejects)?;
    rejects.check()?;
    let EventOutcome {
        mut counts,
        users,
        dedup,
        songplays,
    } = events;
    let (tables, cuts) = finish_events(dir, plan.writer, dedup, songplays, time, &users)?;
    counts.truncations.merge(&cuts);
    Ok((tables, users, counts))
}

/// The log files a window reads: those named for its days, and those without a date.
fn files_of(logs: &[InputFile], window: &Window) -> Vec<InputFile> {
    logs.iter()
        .filter(|f| day_of_file(&f.name).is_none_or(|d| window.holds_day(d)))
        .cloned()
        .collect()
}

/// Turns a failed window's error into the run's: too many rejects keeps them beside the output
/// (the windows published before stay published).
fn failed(e: Error, stage: Staging, plan: &TransformPlan, output: &Path) -> Error {
    match e {
        Error::TooManyRejects {
            count, max, first, ..
        } => match keep_rejects(stage, &failed_dir(&plan.output, output)) {
            Ok(kept) => Error::TooManyRejects {
                count,
                max,
                first,
                kept: kept.join(REJECTS_DIR).display().to_string(),
            },
            Err(e) => e,
        },
        e => e,
    }
}

/// The tables this run wrote, summed over its windows.
#[derive(Default)]
struct Totals(Vec<TableSummary>);

impl Totals {
    fn add(&mut self, t: TableSummary) {
        match self.0.iter_mut().find(|s| s.name == t.name) {
            Some(s) if t.name == USERS.name => *s = t,
            Some(s) => {
                s.rows += t.rows;
                s.files += t.files;
                s.bytes += t.bytes;
            }
            None => self.0.push(t),
        }
    }
}
