//! The song catalogue: every song file read and parsed (on the parse workers as the folders are
//! listed when the source can, else fetched ahead of them) into [`SongCatalog`].

use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use rayon::prelude::*;

use super::read::in_groups;
use crate::parse::song::parse_song_file;
use crate::parse::{JsonParser, Reject};
use crate::sink::rejects::RejectSink;
use crate::source::Source;
use crate::summary::EtlSummary;
use crate::transform::dims::{CatalogBuilder, SongCatalog};
use crate::transform::text::Truncations;
use crate::{Progress, Result};

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
    summary: &mut EtlSummary,
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
            let unreadable = in_groups(source, &files, None, None, rejects, &bar, |group| {
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
