//! The one definition of the star schema.
//!
//! Every consumer — the Parquet writer, the SQL DDL, the warehouse loaders and the tests — reads the
//! tables from here, so column order, types and text widths cannot drift apart. Column order matters:
//! Redshift's `COPY … FORMAT AS PARQUET` maps file columns onto table columns by position.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The SQL type of a column, with text widths in UTF-8 bytes (Redshift's VARCHAR unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// 64-bit integer (`BIGINT`, Parquet INT64).
    BigInt,
    /// 32-bit integer (`INTEGER`, Parquet INT32).
    Integer,
    /// Double precision float (`DOUBLE PRECISION`, Parquet DOUBLE).
    Double,
    /// Timestamp without time zone at microsecond resolution (Parquet INT64 TIMESTAMP(MICROS)).
    Timestamp,
    /// UTF-8 text of at most this many bytes (`VARCHAR(n)`).
    Varchar(u32),
}

impl ColumnType {
    /// The Arrow type written to Parquet for this column.
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnType::BigInt => DataType::Int64,
            ColumnType::Integer => DataType::Int32,
            ColumnType::Double => DataType::Float64,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColumnType::Varchar(_) => DataType::Utf8,
        }
    }

    /// The SQL spelling shared by PostgreSQL and Redshift.
    pub fn sql_type(self) -> String {
        match self {
            ColumnType::BigInt => "BIGINT".into(),
            ColumnType::Integer => "INTEGER".into(),
            ColumnType::Double => "DOUBLE PRECISION".into(),
            ColumnType::Timestamp => "TIMESTAMP".into(),
            ColumnType::Varchar(n) => format!("VARCHAR({n})"),
        }
    }

    /// The byte width of a text column, `None` for other types.
    pub fn text_width(self) -> Option<usize> {
        match self {
            ColumnType::Varchar(n) => Some(n as usize),
            _ => None,
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Column name, identical in Parquet and SQL.
    pub name: &'static str,
    /// SQL and Arrow type.
    pub ty: ColumnType,
    /// Whether NULL is allowed (keys are never NULL).
    pub nullable: bool,
}

/// One table of the star schema.
#[derive(Debug)]
pub struct Table {
    /// Table name, identical in the output folder and the warehouse.
    pub name: &'static str,
    /// Columns in warehouse (and Parquet) order.
    pub columns: &'static [Column],
    /// Number of leading columns that form the primary key.
    pub key_len: usize,
}

const fn col(name: &'static str, ty: ColumnType, nullable: bool) -> Column {
    Column { name, ty, nullable }
}

use ColumnType::{BigInt, Double, Integer, Timestamp, Varchar};

/// Identifier widths: Million Song Dataset ids are 18 ASCII bytes; 32 leaves room.
const ID: ColumnType = Varchar(32);
/// Free text (titles, names, places, user agents): measured maxima on the real data are < 200 bytes.
const TEXT: ColumnType = Varchar(512);
/// Short codes such as `level` (`free`/`paid`) and `gender` (`F`/`M`).
const CODE: ColumnType = Varchar(16);

/// The fact table: one row per `NextSong` event.
pub static SONGPLAYS: Table = Table {
    name: "songplays",
    columns: &[
        col("songplay_id", BigInt, false),
        col("start_time", Timestamp, false),
        col("user_id", Integer, false),
        col("level", CODE, true),
        col("song_id", ID, true),
        col("artist_id", ID, true),
        col("session_id", Integer, false),
        col("location", TEXT, true),
        col("user_agent", TEXT, true),
    ],
    key_len: 1,
};

/// App users, with the level of their latest event. `level_at` is that event's time: an incremental
/// load keeps whichever level is newer, so loading days out of order still converges.
pub static USERS: Table = Table {
    name: "users",
    columns: &[
        col("user_id", Integer, false),
        col("first_name", Varchar(256), true),
        col("last_name", Varchar(256), true),
        col("gender", CODE, true),
        col("level", CODE, true),
        col("level_at", Timestamp, false),
    ],
    key_len: 1,
};

/// Songs of the catalogue.
pub static SONGS: Table = Table {
    name: "songs",
    columns: &[
        col("song_id", ID, false),
        col("title", TEXT, true),
        col("artist_id", ID, true),
        col("year", Integer, true),
        col("duration", Double, true),
    ],
    key_len: 1,
};

/// Artists of the catalogue.
pub static ARTISTS: Table = Table {
    name: "artists",
    columns: &[
        col("artist_id", ID, false),
        col("name", TEXT, true),
        col("location", TEXT, true),
        col("latitude", Double, true),
        col("longitude", Double, true),
    ],
    key_len: 1,
};

/// The timestamps of song plays broken down into units.
pub static TIME: Table = Table {
    name: "time",
    columns: &[
        col("start_time", Timestamp, false),
        col("hour", Integer, false),
        col("day", Integer, false),
        col("week", Integer, false),
        col("month", Integer, false),
        col("year", Integer, false),
        col("weekday", Integer, false),
    ],
    key_len: 1,
};

/// All tables, dimensions first so that a loader can respect foreign-key order.
pub static TABLES: [&Table; 5] = [&USERS, &SONGS, &ARTISTS, &TIME, &SONGPLAYS];

impl Table {
    /// The Arrow schema of this table, in column order.
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(c.name, c.ty.arrow_type(), c.nullable))
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// The key columns.
    pub fn key(&self) -> &'static [Column] {
        &self.columns[..self.key_len]
    }

    /// Comma-separated column names, in order.
    pub fn column_list(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        names.join(", ")
    }

    /// Looks a table up by name.
    pub fn by_name(name: &str) -> Option<&'static Table> {
        TABLES.iter().copied().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_a_non_null_key_first() {
        for t in TABLES {
            assert!(t.key_len >= 1, "{}", t.name);
            assert!(t.key().iter().all(|c| !c.nullable), "{}", t.name);
        }
    }

    #[test]
    fn timestamps_are_microseconds_without_zone() {
        let s = SONGPLAYS.arrow_schema();
        assert_eq!(
            s.field(1).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, None)
        );
    }
}
