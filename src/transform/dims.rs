//! The catalogue dimensions — `songs` and `artists` — and the index that matches plays to songs.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Builder, Int32Builder, RecordBatch, StringArray, StringBuilder,
    UInt32Builder, UInt64Array,
};
use arrow::compute::{concat, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use rayon::prelude::*;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use super::text::{TextColumn, Truncations};
use crate::parse::song::Song;
use crate::schema::{ARTISTS, SONGS};

/// Largest difference between a play's `length` and a song's `duration` that still matches.
pub const DURATION_TOLERANCE: f64 = 1e-6;

/// Song records as parsed, in input order, before dedup. One per parse worker.
pub struct CatalogBuilder {
    song_id: TextColumn,
    title: TextColumn,
    artist_id: TextColumn,
    year: Int32Builder,
    duration: Float64Builder,
    artist_name: TextColumn,
    artist_location: TextColumn,
    latitude: Float64Builder,
    longitude: Float64Builder,
    /// Each record's file and its position there: of the records of one `song_id`, the first
    /// file by name and the first record in it wins (files are read in any order).
    file: StringBuilder,
    object: UInt32Builder,
}

impl Default for CatalogBuilder {
    fn default() -> Self {
        let rows = 1024;
        Self {
            song_id: TextColumn::new(&SONGS.columns[0], rows),
            title: TextColumn::new(&SONGS.columns[1], rows),
            artist_id: TextColumn::new(&SONGS.columns[2], rows),
            year: Int32Builder::with_capacity(rows),
            duration: Float64Builder::with_capacity(rows),
            artist_name: TextColumn::new(&ARTISTS.columns[1], rows),
            artist_location: TextColumn::new(&ARTISTS.columns[2], rows),
            latitude: Float64Builder::with_capacity(rows),
            longitude: Float64Builder::with_capacity(rows),
            file: StringBuilder::with_capacity(rows, rows * 48),
            object: UInt32Builder::with_capacity(rows),
        }
    }
}

fn catalog_schema() -> SchemaRef {
    let t = |n: &str| Field::new(n, DataType::Utf8, true);
    let f = |n: &str| Field::new(n, DataType::Float64, true);
    Arc::new(Schema::new(vec![
        t("song_id"),
        t("title"),
        t("artist_id"),
        Field::new("year", DataType::Int32, true),
        f("duration"),
        t("artist_name"),
        t("artist_location"),
        f("latitude"),
        f("longitude"),
        Field::new("file", DataType::Utf8, false),
        Field::new("object", DataType::UInt32, false),
    ]))
}

impl CatalogBuilder {
    /// Appends one song, the `object`-th record of the input file named `file`.
    pub fn push(&mut self, song: &Song<'_>, file: &str, object: u32) {
        self.song_id.append(Some(&song.song_id));
        self.title.append(song.title.as_deref());
        self.artist_id.append(Some(&song.artist_id));
        self.year.append_option(song.year);
        self.duration.append_option(song.duration);
        self.artist_name.append(song.artist_name.as_deref());
        self.artist_location.append(song.artist_location.as_deref());
        self.latitude.append_option(song.artist_latitude);
        self.longitude.append_option(song.artist_longitude);
        self.file.append_value(file);
        self.object.append_value(object);
    }

    /// The rows so far as one batch, and the text cuts made.
    pub fn finish(mut self) -> Result<(RecordBatch, Truncations), ArrowError> {
        let mut cuts = Truncations::default();
        cuts.add(SONGS.name, "song_id", self.song_id.cut);
        cuts.add(SONGS.name, "title", self.title.cut);
        cuts.add(SONGS.name, "artist_id", self.artist_id.cut);
        cuts.add(ARTISTS.name, "name", self.artist_name.cut);
        cuts.add(ARTISTS.name, "location", self.artist_location.cut);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.song_id.finish()),
            Arc::new(self.title.finish()),
            Arc::new(self.artist_id.finish()),
            Arc::new(self.year.finish()),
            Arc::new(self.duration.finish()),
            Arc::new(self.artist_name.finish()),
            Arc::new(self.artist_location.finish()),
            Arc::new(self.latitude.finish()),
            Arc::new(self.longitude.finish()),
            Arc::new(self.file.finish()),
            Arc::new(self.object.finish()),
        ];
        Ok((RecordBatch::try_new(catalog_schema(), columns)?, cuts))
    }
}

/// The deduplicated catalogue: the `songs` and `artists` tables and the play → song index.
pub struct SongCatalog {
    /// The `songs` table, sorted by `song_id`.
    pub songs: RecordBatch,
    /// The `artists` table, sorted by `artist_id`.
    pub artists: RecordBatch,
    /// Song records that repeated a `song_id` already seen (dropped).
    pub duplicate_songs: u64,
    index: SongIndex,
}

/// Finds the song a play refers to: (title, artist name) hash → candidate songs with their
/// durations inline. The first candidate lives in the hash table itself and further ones (rare)
/// in a side list; each candidate's title, artist name and ids sit back to back in one string. So a
/// lookup usually costs one cache miss for the table and one for the text, and most non-matches
/// are settled on the duration alone.
struct SongIndex {
    by_key: FxHashMap<u64, Candidate>,
    /// Further candidates of keys with several, chained through `next`.
    more: Vec<Candidate>,
    /// Per candidate: title, artist name, song id, artist id.
    text: String,
}

/// A song that may match a play: its duration, where its texts start in `SongIndex::text` and
/// their lengths, and the next candidate of the same key (an index into `SongIndex::more`,
/// `u32::MAX` for none).
#[derive(Debug, Clone, Copy)]
struct Candidate {
    duration: f64,
    start: usize,
    lens: [u32; 4],
    next: u32,
}

const NO_MORE: u32 = u32::MAX;

/// A matched song: its ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SongMatch<'c> {
    /// The song's id.
    pub song_id: &'c str,
    /// The song's artist id.
    pub artist_id: &'c str,
}

fn key_hash(title: &str, artist: &str) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    h.write(title.as_bytes());
    h.write_u8(0xff); // cannot occur in UTF-8: separates ("ab","c") from ("a","bc")
    h.write(artist.as_bytes());
    h.finish()
}

impl SongCatalog {
    /// Builds the catalogue from the parse workers' batches: one row per `song_id` (the first in input
    /// order: files by name, records in file order), and one artist per `artist_id` taken from its
    /// smallest `song_id`.
    pub fn build(parts: Vec<RecordBatch>) -> Result<Self, ArrowError> {
        let all = concat_columns(&catalog_schema(), &parts)?;
        drop(parts);
        let song_ids = str_col(&all, 0);
        let files = str_col(&all, 9);
        let objects =
            arrow::array::as_primitive_array::<arrow::datatypes::UInt32Type>(all.column(10));
        // Row numbers by (song_id, input order); the first row of each song_id is kept.
        let mut unique: Vec<u64> = (0..all.num_rows() as u64).collect();
        unique.par_sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            song_ids
                .value(a)
                .cmp(song_ids.value(b))
                .then_with(|| files.value(a).cmp(files.value(b)))
                .then_with(|| objects.value(a).cmp(&objects.value(b)))
        });
        unique.dedup_by(|later, first| {
            song_ids.value(*later as usize) == song_ids.value(*first as usize)
        });
        let duplicate_songs = (all.num_rows() - unique.len()) as u64;

        // The songs, the artists and the match index are built side by side.
        let (songs, (artists, index)) = rayon::join(
            || take_columns(&all, &[0, 1, 2, 3, 4], &unique, SONGS.arrow_schema()),
            || {
                rayon::join(
                    || {
                        let artist_ids = str_col(&all, 2);
                        let mut seen = FxHashSet::default();
                        let mut first_songs: Vec<u64> = unique
                            .iter()
                            .copied()
                            .filter(|&r| seen.insert(artist_ids.value(r as usize)))
                            .collect();
                        first_songs.par_sort_unstable_by_key(|&r| artist_ids.value(r as usize));
                        take_columns(&all, &[2, 5, 6, 7, 8], &first_songs, ARTISTS.arrow_schema())
                    },
                    || SongIndex::new(&all, &unique),
                )
            },
        );
        Ok(Self {
            songs: songs?,
            artists: artists?,
            duplicate_songs,
            index,
        })
    }

    /// The song with this title, artist name and a duration within [`DURATION_TOLERANCE`] of
    /// `length`; the smallest `song_id` when several match.
    pub fn find(&self, title: &str, artist: &str, length: f64) -> Option<SongMatch<'_>> {
        self.find_hashed(key_hash(title, artist), title, artist, length)
    }

    /// [`SongCatalog::find`] for each `(title, artist, length)`; `None` queries find nothing.
    /// Hashing every key first leaves a loop of independent lookups, whose cache misses overlap.
    pub fn find_many(&self, queries: &[Option<(&str, &str, f64)>]) -> Vec<Option<SongMatch<'_>>> {
        let hashes: Vec<u64> = queries
            .iter()
            .map(|q| q.map_or(0, |(title, artist, _)| key_hash(title, artist)))
            .collect();
        queries
            .iter()
            .zip(hashes)
            .map(|(q, hash)| {
                q.and_then(|(title, artist, length)| self.find_hashed(hash, title, artist, length))
            })
            .collect()
    }

    fn find_hashed(
        &self,
        hash: u64,
        title: &str,
        artist: &str,
        length: f64,
    ) -> Option<SongMatch<'_>> {
        let ix = &self.index;
        let mut candidate = ix.by_key.get(&hash)?;
        loop {
            if (candidate.duration - length).abs() < DURATION_TOLERANCE {
                let [t, n, s, a] = candidate.lens.map(|l| l as usize);
                let at = candidate.start;
                let text = ix.text.as_bytes();
                if &text[at..at + t] == title.as_bytes()
                    && &text[at + t..at + t + n] == artist.as_bytes()
                {
                    let ids = at + t + n;
                    return Some(SongMatch {
                        song_id: ix.text.get(ids..ids + s)?,
                        artist_id: ix.text.get(ids + s..ids + s + a)?,
                    });
                }
            }
            candidate = ix.more.get(candidate.next as usize)?;
        }
    }
}

impl SongIndex {
    /// Indexes the `rows` of `all` (one per song, in `song_id` order), so candidates come out
    /// smallest first.
    fn new(all: &RecordBatch, rows: &[u64]) -> Self {
        let titles = str_col(all, 1);
        let names = str_col(all, 5);
        let song_ids = str_col(all, 0);
        let artist_ids = str_col(all, 2);
        let durations =
            arrow::array::as_primitive_array::<arrow::datatypes::Float64Type>(all.column(4));
        let mut by_key: FxHashMap<u64, Candidate> = FxHashMap::default();
        by_key.reserve(rows.len());
        let mut more: Vec<Candidate> = Vec::new();
        let mut text = String::new();
        // Rows are visited in song_id order; chains keep that order so the smallest id wins.
        let mut tails: FxHashMap<u64, u32> = FxHashMap::default();
        for r in rows.iter().map(|&r| r as usize) {
            if !(titles.is_valid(r) && names.is_valid(r) && durations.is_valid(r)) {
                continue;
            }
            let (title, name) = (titles.value(r), names.value(r));
            let start = text.len();
            let parts = [title, name, song_ids.value(r), artist_ids.value(r)];
            for part in parts {
                text.push_str(part);
            }
            let candidate = Candidate {
                duration: durations.value(r),
                start,
                // Catalogue text is cut to its column's width, far below 4 GB.
                lens: parts.map(|p| p.len() as u32),
                next: NO_MORE,
            };
            let key = key_hash(title, name);
            match by_key.get_mut(&key) {
                None => {
                    by_key.insert(key, candidate);
                }
                Some(head) => {
                    let at = more.len() as u32;
                    more.push(candidate);
                    match tails.insert(key, at) {
                        Some(tail) => more[tail as usize].next = at,
                        None => head.next = at,
                    }
                }
            }
        }
        Self { by_key, more, text }
    }
}

/// The string column `i` of a catalogue batch (always Utf8 by construction).
fn str_col(batch: &RecordBatch, i: usize) -> &StringArray {
    arrow::array::as_string_array(batch.column(i))
}

/// `parts` (batches of `schema`) as one batch, its columns concatenated in parallel.
fn concat_columns(schema: &SchemaRef, parts: &[RecordBatch]) -> Result<RecordBatch, ArrowError> {
    if parts.is_empty() {
        return Ok(RecordBatch::new_empty(schema.clone()));
    }
    let columns = (0..schema.fields().len())
        .into_par_iter()
        .map(|i| {
            let arrays: Vec<&dyn Array> = parts.iter().map(|p| p.column(i).as_ref()).collect();
            concat(&arrays)
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

/// The `columns` of `batch` at `rows`, taken in parallel, as a batch of `schema`.
fn take_columns(
    batch: &RecordBatch,
    columns: &[usize],
    rows: &[u64],
    schema: SchemaRef,
) -> Result<RecordBatch, ArrowError> {
    let indices = UInt64Array::from(rows.to_vec());
    let taken = columns
        .par_iter()
        .map(|&i| take(batch.column(i).as_ref(), &indices, None))
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema, taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song<'a>(id: &'a str, title: &'a str, artist: &'a str, duration: f64) -> Song<'a> {
        Song {
            song_id: id.into(),
            title: Some(title.into()),
            artist_id: format!("AR{id}").into(),
            artist_name: Some(artist.into()),
            duration: Some(duration),
            ..Song::default()
        }
    }

    fn catalog(songs: &[Song<'_>]) -> SongCatalog {
        let mut b = CatalogBuilder::default();
        for (i, s) in songs.iter().enumerate() {
            b.push(s, "song_data/songs.json", i as u32);
        }
        SongCatalog::build(vec![b.finish().unwrap().0]).unwrap()
    }

    #[test]
    fn several_matches_give_the_smallest_song_id() {
        let c = catalog(&[
            song("SO3", "T", "A", 100.0),
            song("SO2", "T", "A", 200.0),
            song("SO1", "T", "A", 200.0),
            song("SO0", "T", "B", 200.0),
        ]);
        assert_eq!(c.find("T", "A", 200.0).unwrap().song_id, "SO1");
        assert_eq!(c.find("T", "A", 100.0).unwrap().song_id, "SO3");
        assert_eq!(c.find("T", "A", 200.0 + 2e-6), None);
        assert_eq!(c.find("T", "A", 200.0 + 5e-7).unwrap().artist_id, "ARSO1");
        assert_eq!(c.find("T", "C", 200.0), None);
    }

    #[test]
    fn find_many_answers_as_find_does_in_order() {
        let c = catalog(&[
            song("SO2", "T", "A", 200.0),
            song("SO1", "T", "A", 200.0),
            song("SO5", "U", "B", 5.0),
        ]);
        let queries = [
            Some(("T", "A", 200.0)),
            None,
            Some(("U", "B", 5.0)),
            Some(("U", "B", 6.0)),
            Some(("T", "B", 200.0)),
        ];
        let many = c.find_many(&queries);
        let one: Vec<_> = queries
            .iter()
            .map(|q| q.and_then(|(t, a, l)| c.find(t, a, l)))
            .collect();
        assert_eq!(many, one);
        let ids: Vec<_> = many.iter().map(|m| m.map(|m| m.song_id)).collect();
        assert_eq!(ids, [Some("SO1"), None, Some("SO5"), None, None]);
    }

    #[test]
    fn first_song_record_wins_and_artists_come_from_the_smallest_song() {
        let mut a = song("SO9", "Old", "Name9", 1.0);
        a.artist_id = "ARX".into();
        let mut b = song("SO1", "New", "Name1", 1.0);
        b.artist_id = "ARX".into();
        let dup = song("SO9", "Dup", "Other", 2.0);
        let c = catalog(&[a, b, dup]);
        assert_eq!(c.songs.num_rows(), 2);
        assert_eq!(c.duplicate_songs, 1);
        let titles = str_col(&c.songs, 1);
        assert_eq!((titles.value(0), titles.value(1)), ("New", "Old"));
        assert_eq!(str_col(&c.artists, 1).value(0), "Name1");
    }

    #[test]
    fn of_records_read_out_of_order_the_first_file_by_name_wins() {
        let (a, b) = (song("SO1", "A", "X", 1.0), song("SO1", "B", "X", 1.0));
        let (c, d) = (song("SO1", "C", "X", 1.0), song("SO2", "D", "X", 1.0));
        // Two workers: one read b.json, the other a.json (holding a second SO1 record, then SO2).
        let mut first = CatalogBuilder::default();
        first.push(&b, "song_data/b.json", 0);
        let mut second = CatalogBuilder::default();
        second.push(&d, "song_data/a.json", 0);
        second.push(&c, "song_data/a.json", 2);
        second.push(&a, "song_data/a.json", 1);
        let parts = vec![first.finish().unwrap().0, second.finish().unwrap().0];
        let catalog = SongCatalog::build(parts).unwrap();
        let titles = str_col(&catalog.songs, 1);
        assert_eq!((titles.value(0), titles.value(1)), ("A", "D"));
        assert_eq!(catalog.duplicate_songs, 2);
    }
}
