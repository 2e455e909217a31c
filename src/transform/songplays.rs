//! The `songplays` fact: one row per `NextSong` event, matched to the catalogue, with its
//! deterministic id; exact duplicates collapse.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, TimestampMicrosecondArray,
};
use arrow::compute::filter_record_batch;
use arrow::error::ArrowError;
use rustc_hash::FxHashSet;

use super::dims::SongCatalog;
use super::id::{songplay_ids, EventKey};
use super::text::{TextColumn, Truncations};
use super::users::ChunkUsers;
use crate::parse::event::Event;
use crate::schema::SONGPLAYS;

/// Reject reason for a song play that names no user.
pub const NO_USER: &str = "NextSong event without a user (`userId` empty or missing)";

/// Builds the songplays rows of one input file, and tracks its users' latest events.
///
/// Plays are matched to the catalogue all at once in [`SongplayBuilder::finish`]: each lookup is
/// a cache miss or two in a large index, and a tight loop of independent lookups lets the CPU wait
/// for many of them at once, where one lookup per parsed line waits for each in turn.
pub struct SongplayBuilder<'c> {
    catalog: &'c SongCatalog,
    plays: Plays,
    /// Each row's event key; the ids are computed together in [`SongplayBuilder::finish`].
    keys: Vec<EventKey>,
    start_time: Vec<i64>,
    user_id: Vec<i32>,
    level: TextColumn,
    song_id: TextColumn,
    artist_id: TextColumn,
    session_id: Vec<i32>,
    location: TextColumn,
    user_agent: TextColumn,
    users: ChunkUsers,
    matched: u64,
}

/// Each play's title and artist (back to back in `text`) and length, `None` for a play without
/// all three.
#[derive(Default)]
struct Plays {
    text: String,
    spans: Vec<Option<(usize, usize, usize, f64)>>,
}

/// The songplays of one input file and what it taught about users.
pub struct SongplayChunk {
    /// Songplays rows, in file order (not yet deduplicated across files).
    pub batch: RecordBatch,
    /// Latest event per user in this file.
    pub users: ChunkUsers,
    /// Rows matched to a song.
    pub matched: u64,
    /// Text cut to fit its column.
    pub truncations: Truncations,
}

impl<'c> SongplayBuilder<'c> {
    /// A builder matching plays against `catalog`, pre-sized for `rows`.
    pub fn new(catalog: &'c SongCatalog, rows: usize) -> Self {
        let c = SONGPLAYS.columns;
        Self {
            catalog,
            plays: Plays {
                text: String::with_capacity(rows * 40),
                spans: Vec::with_capacity(rows),
            },
            keys: Vec::with_capacity(rows),
            start_time: Vec::with_capacity(rows),
            user_id: Vec::with_capacity(rows),
            level: TextColumn::new(&c[3], rows),
            song_id: TextColumn::new(&c[4], rows),
            artist_id: TextColumn::new(&c[5], rows),
            session_id: Vec::with_capacity(rows),
            location: TextColumn::new(&c[7], rows),
            user_agent: TextColumn::new(&c[8], rows),
            users: ChunkUsers::default(),
            matched: 0,
        }
    }

    /// Takes one event: every event with a user updates `users`; a song play becomes a row.
    /// A song play without a user is refused with a reason (it becomes a reject).
    pub fn add(&mut self, ev: &Event<'_>) -> Result<(), String> {
        if let Some(user) = ev.user_id {
            self.users.observe(user, ev);
        }
        if !ev.is_song_play() {
            return Ok(());
        }
        let user = ev.user_id.ok_or(NO_USER)?;
        self.keys
            .push((ev.ts, user, ev.session_id, ev.item_in_session));
        self.start_time.push(ev.ts * 1000);
        self.user_id.push(user);
        self.level.append(ev.level.as_deref());
        let play = match (&ev.song, &ev.artist, ev.length) {
            (Some(song), Some(artist), Some(length)) => {
                let start = self.plays.text.len();
                self.plays.text.push_str(song);
                self.plays.text.push_str(artist);
                Some((start, song.len(), artist.len(), length))
            }
            _ => None,
        };
        self.plays.spans.push(play);
        self.session_id.push(ev.session_id);
        self.location.append(ev.location.as_deref());
        self.user_agent.append(ev.user_agent.as_deref());
        Ok(())
    }

    /// The finished rows of this file.
    pub fn finish(mut self) -> Result<SongplayChunk, ArrowError> {
        let text = &self.plays.text;
        let queries: Vec<Option<(&str, &str, f64)>> = self
            .plays
            .spans
            .iter()
            .map(|span| {
                span.map(|(start, title, artist, length)| {
                    let t = &text[start..];
                    (&t[..title], &t[title..title + artist], length)
                })
            })
            .collect();
        for hit in self.catalog.find_many(&queries) {
            self.matched += u64::from(hit.is_some());
            self.song_id.append(hit.map(|m| m.song_id));
            self.artist_id.append(hit.map(|m| m.artist_id));
        }
        let mut truncations = Truncations::default();
        let c = SONGPLAYS.columns;
        for (i, col) in [
            (3, &self.level),
            (4, &self.song_id),
            (5, &self.artist_id),
            (7, &self.location),
            (8, &self.user_agent),
        ] {
            truncations.add(SONGPLAYS.name, c[i].name, col.cut);
        }
        let mut ids = Vec::new();
        songplay_ids(&self.keys, &mut ids);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(TimestampMicrosecondArray::from(self.start_time)),
            Arc::new(Int32Array::from(self.user_id)),
            Arc::new(self.level.finish()),
            Arc::new(self.song_id.finish()),
            Arc::new(self.artist_id.finish()),
            Arc::new(Int32Array::from(self.session_id)),
            Arc::new(self.location.finish()),
            Arc::new(self.user_agent.finish()),
        ];
        Ok(SongplayChunk {
            batch: RecordBatch::try_new(SONGPLAYS.arrow_schema(), columns)?,
            users: self.users,
            matched: self.matched,
            truncations,
        })
    }
}

/// Drops songplays whose id was already seen in this run (exact duplicate events), and collects the
/// start times for the `time` table.
#[derive(Debug, Default)]
pub struct Dedup {
    seen: FxHashSet<i64>,
    /// Start times of the rows kept, repeats included: a plain list takes 8 bytes a row where a
    /// set takes 9 to 18, and is sorted once at the end.
    start_times: Vec<i64>,
    /// Rows dropped as duplicates.
    pub duplicates: u64,
}

impl Dedup {
    /// A dedup expecting about `plays` rows: sized once rather than grown by rehashing (each
    /// doubling re-inserts every id and briefly holds both tables).
    pub fn with_capacity(plays: usize) -> Self {
        let mut seen = FxHashSet::default();
        seen.reserve(plays);
        Self {
            seen,
            start_times: Vec::with_capacity(plays),
            duplicates: 0,
        }
    }

    /// The rows of `batch` not seen before.
    pub fn filter(&mut self, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| ArrowError::SchemaError("songplay_id is not BIGINT".into()))?;
        let starts = batch
            .column(1)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| ArrowError::SchemaError("start_time is not TIMESTAMP".into()))?;
        let mut dropped = 0u64;
        let keep: BooleanArray = ids
            .values()
            .iter()
            .zip(starts.values().iter())
            .map(|(&id, &start)| {
                let new = self.seen.insert(id);
                if new {
                    self.start_times.push(start);
                } else {
                    dropped += 1;
                }
                Some(new)
            })
            .collect();
        self.duplicates += dropped;
        if dropped == 0 {
            return Ok(batch.clone());
        }
        filter_record_batch(batch, &keep)
    }

    /// The start times of the rows kept (with repeats, unsorted), for the `time` table.
    pub fn into_start_times(self) -> Vec<i64> {
        self.start_times
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    fn batch(ids: &[i64]) -> RecordBatch {
        let n = ids.len();
        let text = || Arc::new(StringArray::from(vec![Some("x"); n])) as ArrayRef;
        let int = || Arc::new(Int32Array::from(vec![1; n])) as ArrayRef;
        let starts: Vec<i64> = ids.iter().map(|id| id * 1000).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids.to_vec())),
            Arc::new(TimestampMicrosecondArray::from(starts)),
            int(),
            text(),
            text(),
            text(),
            int(),
            text(),
            text(),
        ];
        RecordBatch::try_new(SONGPLAYS.arrow_schema(), columns).unwrap()
    }

    fn ids(batch: &RecordBatch) -> Vec<i64> {
        let ids = batch.column(0).as_any().downcast_ref::<Int64Array>();
        ids.unwrap().values().to_vec()
    }

    #[test]
    fn the_first_of_each_id_is_kept_across_batches() {
        let mut dedup = Dedup::with_capacity(4);
        assert_eq!(
            ids(&dedup.filter(&batch(&[1, 2, 1, 3, 2])).unwrap()),
            [1, 2, 3]
        );
        assert_eq!(ids(&dedup.filter(&batch(&[4, 5])).unwrap()), [4, 5]);
        assert_eq!(ids(&dedup.filter(&batch(&[3, 6, 4])).unwrap()), [6]);
        assert_eq!(dedup.duplicates, 4);
        assert_eq!(
            dedup.into_start_times(),
            [1000, 2000, 3000, 4000, 5000, 6000]
        );
    }
}
