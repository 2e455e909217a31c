//! Reading input files ahead of the parsers: a reader thread fetches them (whole, or in
//! line-aligned parts) into a bounded channel, within a byte budget, and the consumer takes them
//! in groups sized for the parse workers.

use std::sync::mpsc::{sync_channel, Receiver};

use crate::sink::rejects::RejectSink;
use crate::source::budget::ByteBudget;
use crate::source::{Fetched, InputFile, Source};
use crate::{Error, Result};

/// Bytes of input parsed per group; bounds the memory of files in flight.
const GROUP_BYTES: usize = 64 << 20;
/// Bytes of input fetched ahead of the parsers (and a file count estimated from the listed
/// sizes). Twice [`GROUP_BYTES`], so that a group being collected never holds the reader back.
const READ_AHEAD_BYTES: u64 = 2 * GROUP_BYTES as u64;

/// How many files (or parts of at most `part` bytes) may wait in the channel: many small song
/// files, a few parts of large log files.
fn read_ahead(files: &[InputFile], part: Option<usize>) -> usize {
    let total: u64 = files.iter().map(|f| f.size).sum();
    let average = (total / files.len().max(1) as u64).max(1);
    let average = part.map_or(average, |p| average.min(p as u64));
    (READ_AHEAD_BYTES / average).clamp(2, 8192) as usize
}

/// Runs `fetch` (or `fetch_lines` with parts of `part` bytes) on a thread of its own and calls
/// `consume` with groups of fetched files, in order: groups of [`GROUP_BYTES`], or of at most
/// `group` bytes when given. Files that cannot be read whole (see
/// [`crate::source::Error::is_file_reject`]) go to `rejects`, one reject each, and are counted in
/// the result; other read errors stop the transform.
pub(super) fn in_groups(
    source: &dyn Source,
    files: &[InputFile],
    part: Option<usize>,
    group: Option<usize>,
    rejects: &RejectSink,
    progress: &indicatif::ProgressBar,
    mut consume: impl FnMut(Vec<Fetched>) -> Result<()>,
) -> Result<u64> {
    let group_limit = group.map_or(GROUP_BYTES, |g| g.clamp(1, GROUP_BYTES));
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel(read_ahead(files, part));
        let budget = ByteBudget::new(READ_AHEAD_BYTES);
        std::thread::Builder::new()
            .name("sparkify-read".into())
            .spawn_scoped(scope, move || {
                // The source reads into a short channel; each buffer takes its share of the
                // budget before it goes on, so a few large files cannot crowd the memory.
                std::thread::scope(|inner| {
                    let (fetched_tx, fetched_rx) = sync_channel(1);
                    let fetch = std::thread::Builder::new()
                        .name("sparkify-fetch".into())
                        .spawn_scoped(inner, move || match part {
                            Some(part) => source.fetch_lines(files, part, fetched_tx),
                            None => source.fetch(files, fetched_tx),
                        });
                    if let Err(e) = fetch {
                        let _ = tx.send(Err(crate::source::Error::Io {
                            path: "(a reader thread)".into(),
                            source: e,
                        }));
                        return;
                    }
                    for item in fetched_rx {
                        let item = item.map(|mut f| {
                            f.bytes = budget.hold(f.bytes);
                            f
                        });
                        if tx.send(item).is_err() {
                            break;
                        }
                    }
                })
            })
            .map_err(Error::Thread)?;
        let mut unreadable = 0;
        let result = drain_groups(
            &rx,
            group_limit,
            progress,
            rejects,
            &mut unreadable,
            &mut consume,
        );
        drop(rx); // stops the reader early on failure
        result.map(|()| unreadable)
    })
}

fn drain_groups(
    rx: &Receiver<crate::source::Result<Fetched>>,
    group_limit: usize,
    progress: &indicatif::ProgressBar,
    rejects: &RejectSink,
    unreadable: &mut u64,
    consume: &mut impl FnMut(Vec<Fetched>) -> Result<()>,
) -> Result<()> {
    let threads = rayon::current_num_threads();
    let mut group = Vec::new();
    let mut group_bytes = 0;
    let mut total_bytes = 0u64;
    loop {
        let next = rx.recv().ok();
        let done = next.is_none();
        if let Some(item) = next {
            let fetched = match item {
                Ok(fetched) => fetched,
                Err(e) if e.is_file_reject() => {
                    let name = match &e {
                        crate::source::Error::Gzip { path, .. }
                        | crate::source::Error::TooLarge { path, .. } => path.clone(),
                        _ => String::new(),
                    };
                    rejects.extend([e.to_reject(&name)]);
                    *unreadable += 1;
                    progress.inc(1);
                    rejects.check()?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            group_bytes += fetched.bytes.len();
            total_bytes += fetched.bytes.len() as u64;
            progress.inc(u64::from(fetched.starts_file));
            progress.set_message(format!("{:.1} MB", total_bytes as f64 / 1e6));
            group.push(fetched);
            let full = group_bytes >= group_limit
                || group.len() >= 4096
                || (group.len() >= threads * 2 && group_bytes >= group_limit / 8);
            if !full {
                continue;
            }
        }
        if !group.is_empty() {
            consume(std::mem::take(&mut group))?;
            group_bytes = 0;
        }
        if done {
            progress.finish_and_clear();
            return Ok(());
        }
    }
}
