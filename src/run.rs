//! The transform run: source → parse → transform → Parquet, streamed.
//!
//! Song files are parsed first and become the in-memory catalogue (from a local disk the parse
//! workers read each folder's files as they list it; from S3 a reader keeps many requests in
//! flight). Log files then stream through in input order: a reader thread fetches them (in 16 MB
//! line-aligned parts, mapped from a local disk) into a bounded channel, rayon workers parse a
//! group at a time, cut into 4 MB pieces (matching plays and giving them ids), and a writer thread
//! deduplicates the plays and encodes Parquet while the next group parses. Memory holds the
//! catalogue, the users, the play ids and start times and a few groups of input — never the whole
//! input. Rejected records go to a [`RejectSink`] as they are found, and the run stops as soon as
//! there are more than it tolerates.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::error::ArrowError;
use bytes::Bytes;
use rayon::prelude::*;

use crate::parse::event::{parse_log_piece, LineCounts};
use crate::parse::song::parse_song_file;
use crate::parse::{split_lines, JsonParser, Piece, Reject};
use crate::schema::{Table, ARTISTS, SONGPLAYS, SONGS, TIME, USERS};
use crate::sink::parquet::{TableWriter, WriterOptions, WrittenFile};
use crate::sink::rejects::RejectSink;
use crate::source::budget::ByteBudget;
use crate::source::{Fetched, InputFile, Source};
use crate::summary::EventCounts;
use crate::summary::{RunSummary, TableSummary};
use crate::transform::dims::{CatalogBuilder, SongCatalog};
use crate::transform::songplays::{Dedup, SongplayBuilder, SongplayChunk};
use crate::transform::text::Truncations;
use crate::transform::time::time_batches;
use crate::transform::users::UserTracker;
use crate::window::{day_of_file, logs_in, EventFilter, TimeRange};
use crate::{Error, Progress, Result};

/// How a transform run behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransformOptions {
    /// Parquet layout.
    pub writer: WriterOptions,
    /// Events kept (`--since`/`--until`); log files named for days outside it are not read.
    pub range: TimeRange,
}

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

/// Reads `source`, builds the star schema and writes it as Parquet under `out`, rejected records
/// to `rejects`. Stops with [`Error::TooManyRejects`] as soon as `rejects` holds more than it
/// tolerates.
pub fn transform(
    source: &dyn Source,
    out: &Path,
    options: &TransformOptions,
    rejects: &RejectSink,
    progress: &Progress,
) -> Result<RunSummary> {
    let mut summary = RunSummary {
        input: source.describe(),
        output: out.display().to_string(),
        ..RunSummary::default()
    };
    let mut cuts = Truncations::default();

    let started = Instant::now();
    let listed = source.list("log_data")?;
    let any_logs = !listed.is_empty();
    let log_files = logs_in(listed, &options.range);
    summary.log_files = log_files.len() as u64;
    summary
        .stages
        .push(("list".into(), started.elapsed().as_secs_f64()));

    let started = Instant::now();
    let catalog = read_catalog(source, progress, &mut summary, rejects, &mut cuts)?;
    if summary.song_files == 0 && !any_logs {
        return Err(crate::source::no_input(source).into());
    }
    summary.duplicate_songs = catalog.duplicate_songs;
    summary
        .stages
        .push(("songs".into(), started.elapsed().as_secs_f64()));

    let started = Instant::now();
    // The catalogue tables are written while the events stream.
    let (catalog_tables, events) = std::thread::scope(|scope| {
        let catalog_tables = std::thread::Builder::new()
            .name("sparkify-catalog".into())
            .spawn_scoped(scope, || {
                [(&SONGS, &catalog.songs), (&ARTISTS, &catalog.artists)]
                    .into_iter()
                    .map(|(table, batch)| write_table(out, table, batch, options.writer, false))
                    .collect::<Result<Vec<_>>>()
            })
            .map_err(Error::Thread)?;
        let filter = EventFilter {
            keep: options.range,
            range: options.range,
            windowed: false,
        };
        let events = TableWriter::new(out, &SONGPLAYS, options.writer).map(|songplays| {
            let bar = progress.files("events", log_files.len() as u64);
            let sink = EventSink {
                songplays,
                users: UserTracker::default(),
                bar,
            };
            stream_events(source, &log_files, &catalog, &filter, sink, rejects)
        });
        let catalog_tables = catalog_tables.join().map_err(|_| Error::WriterStopped)?;
        Ok::<_, Error>((catalog_tables, events))
    })?;
    let mut tables = catalog_tables?;
    let events = events??;
    events.counts.count_into(&mut summary, &mut cuts);
    let (users, dedup, songplays) = (events.users, events.dedup, events.songplays);
    let time = TableWriter::new(out, &TIME, options.writer)?;
    let (written, user_cuts) = finish_events(out, options.writer, dedup, songplays, time, users)?;
    cuts.merge(&user_cuts);
    tables.extend(written);
    summary
        .stages
        .push(("events".into(), started.elapsed().as_secs_f64()));

    rejects.check()?;
    summary.rejected = rejects.count();
    summary.skipped_files = source.skipped();
    summary.truncated = cuts.0;
    summary.tables = order_tables(tables);
    Ok(summary)
}

/// Tables in the order users read them: the fact first, then the dimensions.
pub(crate) fn order_tables(mut tables: Vec<TableSummary>) -> Vec<TableSummary> {
    let rank = |name: &str| {
        [&SONGPLAYS, &USERS, &SONGS, &ARTISTS, &TIME]
            .iter()
            .position(|t| t.name == name)
    };
    tables.sort_by_key(|t| rank(&t.name));
    tables
}

/// Writes what the events left to write side by side: the last songplays row group, `users`
/// (from `users`) and `time` (the start times `dedup` kept, into `time`); `time`, the largest,
/// starts first. Returns the three tables' summaries and the text cuts of `users`.
pub(crate) fn finish_events(
    out: &Path,
    options: WriterOptions,
    dedup: Dedup,
    songplays: TableWriter,
    time: TableWriter,
    users: UserTracker,
) -> Result<(Vec<TableSummary>, Truncations)> {
    let (time, (songplay_files, users)) = rayon::join(
        || -> Result<_> {
            let starts = dedup.into_start_times();
            let mut writer = time.encoding_in_parallel();
            for batch in time_batches(starts, options.rows_per_group) {
                writer.write(&batch?)?;
            }
            Ok(table_summary(&TIME, &writer.finish()?))
        },
        || {
            rayon::join(
                || songplays.finish(),
                || -> Result<_> {
                    let (batch, user_cuts) = users.into_batch()?;
                    let users = write_table(out, &USERS, &batch, options, true)?;
                    Ok((users, user_cuts))
                },
            )
        },
    );
    let (users, user_cuts) = users?;
    let tables = vec![users, time?, table_summary(&SONGPLAYS, &songplay_files?)];
    Ok((tables, user_cuts))
}

fn table_summary(table: &Table, files: &[WrittenFile]) -> TableSummary {
    TableSummary {
        name: table.name.to_string(),
        rows: files.iter().map(|f| f.rows).sum(),
        files: files.len() as u64,
        bytes: files.iter().map(|f| f.bytes).sum(),
    }
}

/// Writes `table` from one batch, its columns encoded side by side when `parallel` (see
/// [`TableWriter::encoding_in_parallel`]).
pub(crate) fn write_table(
    out: &Path,
    table: &'static Table,
    batch: &RecordBatch,
    options: WriterOptions,
    parallel: bool,
) -> Result<TableSummary> {
    let mut writer = TableWriter::new(out, table, options)?;
    if parallel {
        writer = writer.encoding_in_parallel();
    }
    writer.write(batch)?;
    Ok(table_summary(table, &writer.finish()?))
}

/// Runs `fetch` (or `fetch_lines` with parts of `part` bytes) on a thread of its own and calls
/// `consume` with groups of fetched files, in order. Files that cannot be read whole (see
/// [`crate::source::Error::is_file_reject`]) go to `rejects`, one reject each, and are counted in
/// the result; other read errors stop the run.
fn in_groups(
    source: &dyn Source,
    files: &[InputFile],
    part: Option<usize>,
    rejects: &RejectSink,
    progress: &indicatif::ProgressBar,
    mut consume: impl FnMut(Vec<Fetched>) -> Result<()>,
) -> Result<u64> {
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
        let result = drain_groups(&rx, progress, rejects, &mut unreadable, &mut consume);
        drop(rx); // stops the reader early on failure
        result.map(|()| unreadable)
    })
}

fn drain_groups(
    rx: &Receiver<crate::source::Result<Fetched>>,
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
            let full = group_bytes >= GROUP_BYTES
                || group.len() >= 4096
                || (group.len() >= threads * 2 && group_bytes >= GROUP_BYTES / 8);
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

/// A parse worker's share of the song files.
#[derive(Default)]
struct SongFold {
    parser: JsonParser,
    builder: CatalogBuilder,
    /// The current file's rejects, on their way to the sink.
    rejects: Vec<Reject>,
    files: u64,
    /// Song records seen (accepted or rejected).
    records: u64,
    bytes: u64,
}

impl SongFold {
    /// Parses the song file `name` into the catalogue, its rejects into `rejects`; a file that
    /// could not be read whole is one rejected record.
    fn parse(&mut self, name: &str, bytes: crate::source::Result<Bytes>, rejects: &RejectSink) {
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(e) => return self.unreadable(e.to_reject(name), rejects),
        };
        self.files += 1;
        let mut object = 0u32;
        self.bytes += bytes.len() as u64;
        let builder = &mut self.builder;
        self.records +=
            parse_song_file(&mut self.parser, name, &bytes, &mut self.rejects, |song| {
                builder.push(song, name, object);
                object = object.saturating_add(1);
            });
        if !self.rejects.is_empty() {
            rejects.extend(self.rejects.drain(..));
        }
    }

    /// A song file that could not be read whole: one file, one rejected record.
    fn unreadable(&mut self, reject: Reject, rejects: &RejectSink) {
        self.files += 1;
        self.records += 1;
        rejects.extend([reject]);
    }
}

/// Reads and parses every song file into the catalogue: on the parse workers as they list the
/// folders when the source can ([`Source::read_all`]), else listed, then fetched ahead of them.
/// Stops early once `rejects` holds more than it tolerates.
pub(crate) fn read_catalog(
    source: &dyn Source,
    progress: &Progress,
    summary: &mut RunSummary,
    rejects: &RejectSink,
    cuts: &mut Truncations,
) -> Result<SongCatalog> {
    // One fold per pool thread; each thread only ever locks its own.
    let folds: Vec<Mutex<SongFold>> = (0..rayon::current_num_threads())
        .map(|_| Mutex::default())
        .collect();
    let fold = || {
        let at = rayon::current_thread_index().unwrap_or(0) % folds.len();
        folds[at].lock().unwrap_or_else(PoisonError::into_inner)
    };
    let bar = progress.counter("songs");
    let read_all = source.read_all("song_data", &|name, bytes| {
        bar.inc(1);
        fold().parse(name, bytes, rejects);
        rejects.check().is_ok()
    });
    match read_all {
        Some(read) => read?,
        None => {
            let files = source.list("song_data")?;
            let unreadable = in_groups(source, &files, None, rejects, &bar, |group| {
                group
                    .into_par_iter()
                    .for_each(|f| fold().parse(&f.name, Ok(f.bytes), rejects));
                rejects.check()
            })?;
            let mut fold = fold();
            fold.files += unreadable;
            fold.records += unreadable;
        }
    }
    bar.finish_and_clear();
    rejects.check()?;
    let mut parts = Vec::with_capacity(folds.len());
    for fold in folds {
        let fold = fold.into_inner().unwrap_or_else(PoisonError::into_inner);
        let (batch, c) = fold.builder.finish()?;
        parts.push(batch);
        cuts.merge(&c);
        summary.song_files += fold.files;
        summary.song_records += fold.records;
        summary.input_bytes += fold.bytes;
    }
    Ok(SongCatalog::build(parts)?)
}

/// Where streamed events go: the songplays writer, the users seen so far (carried across the
/// windows of a windowed run), and the progress bar of the files.
pub(crate) struct EventSink {
    pub songplays: TableWriter,
    pub users: UserTracker,
    pub bar: indicatif::ProgressBar,
}

/// What streaming the events produced.
pub(crate) struct EventOutcome {
    pub counts: EventCounts,
    pub users: UserTracker,
    pub dedup: Dedup,
    /// The songplays writer, its last row group not yet flushed.
    pub songplays: TableWriter,
}

/// One parsed piece of a log file.
struct ParsedLog {
    /// The file's position in the listing.
    file: usize,
    chunk: SongplayChunk,
    /// Numbered from the piece's first line until the writer adds the lines before the piece.
    rejects: Vec<Reject>,
    counts: LineCounts,
    /// Events outside the range or window kept.
    outside: u64,
    bytes: u64,
}

/// Bytes of a log file one worker parses at a time: large files are cut at line boundaries so both
/// cores stay busy however the input is split into files.
const PIECE_BYTES: usize = 4 << 20;
/// Log bytes per song play, to size the dedup set up front: ~550 in the real and generated logs
/// (a play's line plus its share of the other pages); a little less so that it rarely grows.
const BYTES_PER_PLAY: u64 = 512;
/// Most plays the dedup set is sized for before seeing them (~4 GB of logs); larger inputs grow
/// it as they go. Memory is touched only as ids arrive.
const MAX_PRESIZED_PLAYS: u64 = 8 << 20;
/// Bytes of a large log file read at a time, so memory holds parts of files, not whole ones.
const PART_BYTES: usize = 16 << 20;

fn parse_log_piece_of(
    catalog: &SongCatalog,
    filter: &EventFilter,
    parser: &mut JsonParser,
    file: usize,
    name: &str,
    piece: Piece<'_>,
) -> Result<ParsedLog, ArrowError> {
    let bytes = piece.bytes.len() as u64;
    let mut builder = SongplayBuilder::new(catalog, (piece.bytes.len() / 300).max(16));
    let mut rejects = Vec::new();
    let mut outside = 0;
    let dated = filter.windowed && day_of_file(name).is_some();
    let counts = parse_log_piece(parser, name, piece, &mut rejects, |ev| {
        if filter.keep.contains(ev.ts) {
            builder.add(ev)
        } else if dated && filter.range.contains(ev.ts) {
            Err(format!(
                "ts {} lies outside the day the file is named for; a windowed run reads a file \
                 in its day's window only (run without --window to load it)",
                crate::window::format_ms(ev.ts)
            ))
        } else {
            outside += 1;
            Ok(())
        }
    });
    Ok(ParsedLog {
        file,
        chunk: builder.finish()?,
        rejects,
        counts,
        outside,
        bytes,
    })
}

/// Gives the rejects of consecutive pieces their files' own line numbers.
#[derive(Default)]
struct LineNumbers {
    file: Option<usize>,
    lines_before: u64,
}

impl LineNumbers {
    fn renumber(&mut self, parsed: &mut ParsedLog) {
        if self.file != Some(parsed.file) {
            self.file = Some(parsed.file);
            self.lines_before = 0;
        }
        for reject in &mut parsed.rejects {
            reject.line += self.lines_before;
        }
        self.lines_before += parsed.counts.physical;
    }
}

/// Streams the events of `files` that `filter` keeps into `sink`: plays matched, given ids,
/// deduplicated and written; users folded into the sink's.
pub(crate) fn stream_events(
    source: &dyn Source,
    files: &[InputFile],
    catalog: &SongCatalog,
    filter: &EventFilter,
    sink: EventSink,
    rejects: &RejectSink,
) -> Result<EventOutcome> {
    let EventSink {
        songplays: writer,
        users,
        bar,
    } = sink;
    let log_bytes: u64 = files.iter().map(|f| f.size).sum();
    let expected_plays = (log_bytes / BYTES_PER_PLAY).min(MAX_PRESIZED_PLAYS) as usize;
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Vec<ParsedLog>>(2);
        let write = std::thread::Builder::new()
            .name("sparkify-write".into())
            .spawn_scoped(scope, move || -> Result<EventOutcome> {
                let mut o = EventOutcome {
                    counts: EventCounts::default(),
                    users,
                    dedup: Dedup::with_capacity(expected_plays),
                    songplays: writer,
                };
                let mut numbers = LineNumbers::default();
                for group in rx {
                    for mut parsed in group {
                        numbers.renumber(&mut parsed);
                        o.counts.lines += parsed.counts.lines;
                        o.counts.outside += parsed.outside;
                        o.counts.bytes += parsed.bytes;
                        o.counts.song_plays += parsed.chunk.batch.num_rows() as u64;
                        o.counts.matched += parsed.chunk.matched;
                        if !parsed.rejects.is_empty() {
                            o.counts.rejected += parsed.rejects.len() as u64;
                            rejects.extend(parsed.rejects);
                        }
                        o.counts.truncations.merge(&parsed.chunk.truncations);
                        o.users.merge(&parsed.chunk.users);
                        let kept = o.dedup.filter(&parsed.chunk.batch)?;
                        o.songplays.write(&kept)?;
                    }
                    o.counts.duplicates = o.dedup.duplicates;
                    rejects.check()?;
                }
                Ok(o)
            })
            .map_err(Error::Thread)?;
        let parsed = in_groups(source, files, Some(PART_BYTES), rejects, &bar, |group| {
            rejects.check()?;
            let pieces: Vec<(usize, &str, Piece<'_>)> = group
                .iter()
                .flat_map(|f| {
                    let (index, name) = (f.index, f.name.as_str());
                    split_lines(&f.bytes, f.starts_file, PIECE_BYTES)
                        .into_iter()
                        .map(move |p| (index, name, p))
                })
                .collect();
            let parsed: Vec<ParsedLog> = pieces
                .into_par_iter()
                .map_init(JsonParser::default, |parser, (index, name, piece)| {
                    parse_log_piece_of(catalog, filter, parser, index, name, piece)
                })
                .collect::<Result<_, ArrowError>>()?;
            tx.send(parsed).map_err(|_| Error::WriterStopped)
        });
        drop(tx);
        let written = write.join().map_err(|_| Error::WriterStopped)?;
        match (parsed, written) {
            // The writer's own error explains a stopped writer better than the send failure.
            (Err(Error::WriterStopped), Err(e)) | (Err(e), _) | (Ok(_), Err(e)) => Err(e),
            (Ok(unreadable), Ok(mut outcome)) => {
                outcome.counts.lines += unreadable;
                outcome.counts.rejected += unreadable;
                Ok(outcome)
            }
        }
    })
}
