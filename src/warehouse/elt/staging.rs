//! The ELT staging tables, and the PostgreSQL loader that fills them from the raw JSON.
//!
//! `staging_events` and `staging_songs` hold input records as Redshift's `COPY … FORMAT AS JSON`
//! maps them: the events through the JSONPaths file (18 columns, in its order, camelCase keys as
//! lowercase names), the songs through `JSON 'auto'` (columns named like the keys). Text widths come
//! from [`crate::schema`] wherever a staged value ends up in a star-schema column, so the cut made
//! while staging (Redshift's `TRUNCATECOLUMNS`) is the cut sparkify's own transform makes.
//!
//! PostgreSQL cannot read S3, so there sparkify stages the records itself: it lists and reads the
//! input with the usual [`Source`], parses it with the usual parser (rejecting exactly what the
//! transform rejects), and streams the rows in with binary `COPY`. Only the staging is done in
//! Rust; every star-schema rule runs as SQL in the warehouse.

use std::sync::mpsc::sync_channel;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use tokio::sync::mpsc;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use crate::parse::event::{parse_log, Event};
use crate::parse::song::{parse_song_file, Song};
use crate::parse::{JsonParser, Reject};
use crate::schema::{ColumnType, Table, ARTISTS, SONGPLAYS, SONGS, USERS};
use crate::source::{InputFile, Source};
use crate::transform::songplays::NO_USER;
use crate::transform::text::{fit, Truncations};

/// Width of the staged text that is only compared, never stored (song title and artist of a play):
/// Redshift's largest VARCHAR.
pub const MATCH_TEXT: ColumnType = ColumnType::Varchar(65_535);

/// The SQL type of a staging column.
#[derive(Debug, Clone, Copy)]
pub enum StagingType {
    /// A type of its own.
    Own(ColumnType),
    /// The type of a star-schema column the value ends up in.
    Like(&'static Table, &'static str),
}

/// One column of a staging table.
#[derive(Debug, Clone, Copy)]
pub struct StagingColumn {
    /// Column name (lowercase, as Redshift folds identifiers).
    pub name: &'static str,
    /// Its type.
    pub ty: StagingType,
}

impl StagingColumn {
    /// The resolved SQL type.
    pub fn column_type(&self) -> ColumnType {
        match self.ty {
            StagingType::Own(t) => t,
            StagingType::Like(table, name) => table
                .columns
                .iter()
                .find(|c| c.name == name)
                .map_or(MATCH_TEXT, |c| c.ty),
        }
    }
}

/// A staging table.
#[derive(Debug)]
pub struct StagingTable {
    /// Table name.
    pub name: &'static str,
    /// Columns in COPY order.
    pub columns: &'static [StagingColumn],
}

impl StagingTable {
    /// `name TYPE` lines for `CREATE TABLE`.
    pub fn column_defs(&self) -> String {
        self.columns
            .iter()
            .map(|c| format!("    {} {}", c.name, c.column_type().sql_type()))
            .collect::<Vec<_>>()
            .join(",\n")
    }

    /// Comma-separated column names.
    pub fn column_list(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        names.join(", ")
    }
}

const fn own(name: &'static str, ty: ColumnType) -> StagingColumn {
    StagingColumn {
        name,
        ty: StagingType::Own(ty),
    }
}

const fn like(name: &'static str, table: &'static Table, column: &'static str) -> StagingColumn {
    StagingColumn {
        name,
        ty: StagingType::Like(table, column),
    }
}

use ColumnType::{BigInt, Double, Integer, Varchar};

/// Raw app events, in the order of the JSONPaths file (`log_json_path.json`).
pub static STAGING_EVENTS: StagingTable = StagingTable {
    name: "staging_events",
    columns: &[
        own("artist", MATCH_TEXT),
        own("auth", Varchar(32)),
        like("firstname", &USERS, "first_name"),
        like("gender", &USERS, "gender"),
        own("iteminsession", Integer),
        like("lastname", &USERS, "last_name"),
        own("length", Double),
        like("level", &SONGPLAYS, "level"),
        like("location", &SONGPLAYS, "location"),
        own("method", Varchar(16)),
        own("page", Varchar(256)),
        own("registration", Double),
        own("sessionid", Integer),
        own("song", MATCH_TEXT),
        own("status", Integer),
        own("ts", BigInt),
        like("useragent", &SONGPLAYS, "user_agent"),
        own("userid", Varchar(256)),
    ],
};

/// Raw song records, one column per key of a song file.
pub static STAGING_SONGS: StagingTable = StagingTable {
    name: "staging_songs",
    columns: &[
        own("num_songs", Integer),
        like("artist_id", &SONGS, "artist_id"),
        own("artist_latitude", Double),
        own("artist_longitude", Double),
        like("artist_location", &ARTISTS, "location"),
        like("artist_name", &ARTISTS, "name"),
        like("song_id", &SONGS, "song_id"),
        like("title", &SONGS, "title"),
        own("duration", Double),
        own("year", Integer),
    ],
};

/// One staged value in binary `COPY` encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text or NULL.
    Text(Option<String>),
    /// INTEGER or NULL.
    Int(Option<i32>),
    /// BIGINT or NULL.
    Big(Option<i64>),
    /// DOUBLE PRECISION or NULL.
    Double(Option<f64>),
}

impl ToSql for Cell {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self, ty) {
            (Cell::Text(None) | Cell::Int(None) | Cell::Big(None) | Cell::Double(None), _) => {
                return Ok(IsNull::Yes)
            }
            (Cell::Text(Some(s)), &Type::VARCHAR | &Type::TEXT) => out.put_slice(s.as_bytes()),
            (Cell::Int(Some(v)), &Type::INT4) => out.put_i32(*v),
            (Cell::Big(Some(v)), &Type::INT8) => out.put_i64(*v),
            (Cell::Double(Some(v)), &Type::FLOAT8) => out.put_f64(*v),
            (cell, ty) => return Err(format!("cannot stage {cell:?} as {ty}").into()),
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::VARCHAR | Type::TEXT | Type::INT4 | Type::INT8 | Type::FLOAT8
        )
    }

    to_sql_checked!();
}

/// Builds staged rows, fitting text to the column widths (bytes, at a character boundary) and
/// counting the cuts.
struct RowBuilder {
    table: &'static StagingTable,
    widths: Vec<Option<usize>>,
    cuts: Truncations,
}

impl RowBuilder {
    fn new(table: &'static StagingTable) -> Self {
        Self {
            table,
            widths: table
                .columns
                .iter()
                .map(|c| c.column_type().text_width())
                .collect(),
            cuts: Truncations::default(),
        }
    }

    /// Fits the text cells of `row` (in column order) in place.
    fn fit(&mut self, mut row: Vec<Cell>) -> Vec<Cell> {
        for (i, cell) in row.iter_mut().enumerate() {
            if let (Cell::Text(Some(s)), Some(Some(width))) = (&mut *cell, self.widths.get(i)) {
                let (kept, cut) = fit(s, *width);
                if cut {
                    let kept = kept.len();
                    s.truncate(kept);
                    self.cuts
                        .add(self.table.name, self.table.columns[i].name, 1);
                }
            }
        }
        row
    }
}

fn text(v: &Option<std::borrow::Cow<'_, str>>) -> Cell {
    Cell::Text(v.as_deref().map(str::to_owned))
}

/// The staged row of an event, in [`STAGING_EVENTS`] column order. Fields sparkify does not parse
/// (`auth`, `method`, `registration`, `status`) are NULL: no star-schema rule reads them.
pub fn event_row(e: &Event<'_>) -> Vec<Cell> {
    vec![
        text(&e.artist),
        Cell::Text(None),
        text(&e.first_name),
        text(&e.gender),
        Cell::Int(Some(e.item_in_session)),
        text(&e.last_name),
        Cell::Double(e.length),
        text(&e.level),
        text(&e.location),
        Cell::Text(None),
        Cell::Text(Some(e.page.to_string())),
        Cell::Double(None),
        Cell::Int(Some(e.session_id)),
        text(&e.song),
        Cell::Int(None),
        Cell::Big(Some(e.ts)),
        text(&e.user_agent),
        Cell::Text(e.user_id.map(|u| u.to_string())),
    ]
}

/// The staged row of a song record, in [`STAGING_SONGS`] column order (`num_songs` is NULL).
pub fn song_row(s: &Song<'_>) -> Vec<Cell> {
    vec![
        Cell::Int(None),
        Cell::Text(Some(s.artist_id.to_string())),
        Cell::Double(s.artist_latitude),
        Cell::Double(s.artist_longitude),
        text(&s.artist_location),
        text(&s.artist_name),
        Cell::Text(Some(s.song_id.to_string())),
        text(&s.title),
        Cell::Double(s.duration),
        Cell::Int(s.year),
    ]
}

/// What the parser made of one kind of input file.
#[derive(Debug, Default, Clone)]
pub struct ParseStats {
    /// Files read.
    pub files: u64,
    /// Bytes read (decompressed).
    pub bytes: u64,
    /// Records seen: non-blank log lines, or song objects.
    pub records: u64,
    /// Rows staged.
    pub rows: u64,
    /// Records rejected.
    pub rejects: Vec<Reject>,
    /// Text cut to its staging column's width.
    pub cuts: Truncations,
}

/// A message from the parsing thread to the `COPY` writer.
pub enum Msg {
    /// Rows to stage.
    Rows(Vec<Vec<Cell>>),
    /// All files were parsed.
    Done(ParseStats),
    /// Reading the input failed.
    Failed(crate::source::Error),
}

/// Rows sent per message.
const CHUNK_ROWS: usize = 4096;

pub use crate::warehouse::plan::Input;

impl Input {
    /// The staging table filled from this input.
    pub fn table(self) -> &'static StagingTable {
        match self {
            Input::Songs => &STAGING_SONGS,
            Input::Events => &STAGING_EVENTS,
        }
    }
}

/// Reads and parses `files` on a thread of its own, sending staged rows (and finally the stats) to
/// the returned receiver and counting files on `bar`. The thread stops early when the receiver is
/// dropped.
pub fn spawn_parser(
    source: Arc<dyn Source>,
    files: Vec<InputFile>,
    input: Input,
    bar: indicatif::ProgressBar,
) -> (mpsc::Receiver<Msg>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(4);
    let handle = std::thread::spawn(move || {
        parse_all(source.as_ref(), &files, input, &tx, &bar);
        bar.finish_and_clear();
    });
    (rx, handle)
}

fn parse_all(
    source: &dyn Source,
    files: &[InputFile],
    input: Input,
    tx: &mpsc::Sender<Msg>,
    bar: &indicatif::ProgressBar,
) {
    let mut stats = ParseStats::default();
    let mut builder = RowBuilder::new(input.table());
    let mut parser = JsonParser::default();
    let mut chunk: Vec<Vec<Cell>> = Vec::with_capacity(CHUNK_ROWS);
    let outcome = std::thread::scope(|scope| {
        let (fetch_tx, fetch_rx) = sync_channel(8);
        scope.spawn(move || source.fetch(files, fetch_tx));
        for item in fetch_rx.iter() {
            let fetched = match item {
                Ok(f) => f,
                Err(crate::source::Error::Gzip { path, source }) => {
                    stats
                        .rejects
                        .push(Reject::cannot_decompress(&path, &source));
                    continue;
                }
                Err(e) => return Err(e),
            };
            stats.files += 1;
            stats.bytes += fetched.bytes.len() as u64;
            bar.inc(1);
            let mut rows = Vec::new();
            match input {
                Input::Songs => {
                    stats.records += parse_song_file(
                        &mut parser,
                        &fetched.name,
                        &fetched.bytes,
                        &mut stats.rejects,
                        |s| rows.push(song_row(s)),
                    );
                }
                Input::Events => {
                    let counts = parse_log(
                        &mut parser,
                        &fetched.name,
                        &fetched.bytes,
                        &mut stats.rejects,
                        |e| {
                            // The transform's rule: a song play must name its user.
                            if e.is_song_play() && e.user_id.is_none() {
                                return Err(NO_USER.to_string());
                            }
                            rows.push(event_row(e));
                            Ok(())
                        },
                    );
                    stats.records += counts.lines;
                }
            }
            for row in rows {
                chunk.push(builder.fit(row));
                if chunk.len() == CHUNK_ROWS {
                    stats.rows += chunk.len() as u64;
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
                    if tx.blocking_send(Msg::Rows(full)).is_err() {
                        return Ok(()); // the writer stopped; it reports why
                    }
                }
            }
        }
        Ok(())
    });
    let message = match outcome {
        Err(e) => Msg::Failed(e),
        Ok(()) => {
            stats.rows += chunk.len() as u64;
            if !chunk.is_empty() && tx.blocking_send(Msg::Rows(chunk)).is_err() {
                return;
            }
            stats.cuts = builder.cuts;
            Msg::Done(stats)
        }
    };
    let _ = tx.blocking_send(message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_like_column_exists_in_the_schema() {
        for t in [&STAGING_EVENTS, &STAGING_SONGS] {
            for c in t.columns {
                if let StagingType::Like(table, name) = c.ty {
                    assert!(
                        table.columns.iter().any(|x| x.name == name),
                        "{}.{} refers to missing {}.{}",
                        t.name,
                        c.name,
                        table.name,
                        name
                    );
                }
            }
        }
    }

    #[test]
    fn staging_level_fits_both_tables_that_store_it() {
        // One staged `level` feeds songplays.level and users.level: they must cut alike.
        let level = |t: &Table| t.columns.iter().find(|c| c.name == "level").map(|c| c.ty);
        assert_eq!(level(&SONGPLAYS), level(&USERS));
    }

    #[test]
    fn events_follow_the_jsonpaths_file() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/log_json_path.json");
        let text = std::fs::read_to_string(path).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let paths: Vec<String> = doc["jsonpaths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let p = p.as_str().unwrap();
                p.trim_start_matches("$['")
                    .trim_end_matches("']")
                    .to_ascii_lowercase()
            })
            .collect();
        let columns: Vec<&str> = STAGING_EVENTS.columns.iter().map(|c| c.name).collect();
        assert_eq!(paths, columns);
    }

    #[test]
    fn rows_match_their_tables() {
        let e = Event::default();
        assert_eq!(event_row(&e).len(), STAGING_EVENTS.columns.len());
        let s = Song::default();
        assert_eq!(song_row(&s).len(), STAGING_SONGS.columns.len());
    }

    #[test]
    fn text_is_cut_to_bytes_and_counted() {
        let mut b = RowBuilder::new(&STAGING_EVENTS);
        let mut e = Event {
            level: Some("é".repeat(10).into()), // 20 bytes into VARCHAR(16)
            ..Event::default()
        };
        e.page = "NextSong".into();
        let row = b.fit(event_row(&e));
        assert_eq!(row[7], Cell::Text(Some("é".repeat(8))));
        assert_eq!(b.cuts.0.get("staging_events.level"), Some(&1));
    }
}
