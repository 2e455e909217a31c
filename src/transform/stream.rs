//! The streaming transform: source → parse → star schema → Parquet, one pass.
//!
//! Song files are parsed first and become the in-memory catalogue (from a local disk the parse
//! workers read each folder's files as they list it; from S3 a reader keeps many requests in
//! flight). Log files then stream through in input order: a reader thread fetches them (in 16 MB
//! line-aligned parts, mapped from a local disk) into a bounded channel, rayon workers parse a
//! group at a time, cut into 4 MB pieces (matching plays and giving them ids), and a writer thread
//! deduplicates the plays and encodes Parquet while the next group parses. Memory holds the
//! catalogue, the users, the play ids and start times and a few groups of input — never the whole
//! input. Rejected records go to a [`RejectSink`] as they are found, and the transform stops as
//! soon as there are more than it tolerates.
//!
//! [`super::catalog`] reads the songs, `read` fetches files ahead of the parsers and
//! [`super::events`] streams the log events; this file drives them and writes the tables.

use std::path::Path;
use std::time::Instant;

use arrow::array::RecordBatch;

use super::catalog::read_catalog;
use super::events::{stream_events, EventSink};
use crate::schema::{Table, ARTISTS, SONGPLAYS, SONGS, TIME, USERS};
use crate::sink::parquet::{TableWriter, WriterOptions, WrittenFile};
use crate::sink::rejects::RejectSink;
use crate::source::Source;
use crate::summary::{EtlSummary, TableSummary};
use crate::transform::songplays::Dedup;
use crate::transform::text::Truncations;
use crate::transform::time::time_batches;
use crate::transform::users::UserTracker;
use crate::window::{logs_in, EventFilter, TimeRange};
use crate::{Error, Progress, Result};

/// How the transform behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransformOptions {
    /// Parquet layout.
    pub writer: WriterOptions,
    /// Events kept (`--since`/`--until`); log files named for days outside it are not read.
    pub range: TimeRange,
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
) -> Result<EtlSummary> {
    let mut summary = EtlSummary {
        input: source.describe(),
        output: out.display().to_string(),
        ..EtlSummary::default()
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
    let (written, user_cuts) = finish_events(out, options.writer, dedup, songplays, time, &users)?;
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
    users: &UserTracker,
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
                    let (batch, user_cuts) = users.to_batch()?;
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
