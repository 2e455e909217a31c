//! Streaming the log events: rayon workers parse a group of files at a time, cut into 4 MB
//! pieces (matching plays and giving them ids), and a writer thread deduplicates the plays in
//! input order and encodes Parquet while the next group parses.

use std::sync::mpsc::sync_channel;

use arrow::error::ArrowError;
use rayon::prelude::*;

use super::read::in_groups;
use crate::parse::event::{parse_log_piece, LineCounts};
use crate::parse::{split_lines, JsonParser, Piece, Reject};
use crate::sink::parquet::TableWriter;
use crate::sink::rejects::RejectSink;
use crate::source::{InputFile, Source};
use crate::summary::EventCounts;
use crate::transform::dims::SongCatalog;
use crate::transform::songplays::{Dedup, SongplayBuilder, SongplayChunk};
use crate::transform::users::UserTracker;
use crate::window::{day_of_file, EventFilter};
use crate::{Error, Result};

/// Where streamed events go: the songplays writer, the users seen so far (carried across the
/// windows of a backfill), and the progress bar of the files.
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
/// Bytes parsed per group in a window of a windowed run: one part. A window is a few tens of MB
/// (a day of a busy app), often less than one 64 MB group of a one-shot run, and a window made of
/// one group is parsed first and written after, one core idle each time; in groups of a part,
/// the writer encodes a group while the next one parses, as in a one-shot run.
const WINDOW_GROUP_BYTES: usize = PART_BYTES;

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
        let group_bytes = filter.windowed.then_some(WINDOW_GROUP_BYTES);
        let parsed = in_groups(
            source,
            files,
            Some(PART_BYTES),
            group_bytes,
            rejects,
            &bar,
            |group| {
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
            },
        );
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
