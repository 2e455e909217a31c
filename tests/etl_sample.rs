//! The whole transform on the bundled real sample, read back from Parquet.

mod common;

use arrow::array::{
    Array, Float64Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use common::{col, read_table, same_rows, sample, sparkify_ok};
use parquet::basic::{Compression, LogicalType, TimeUnit as PqTimeUnit, Type as PhysicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};

fn run_sample() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("warehouse");
    sparkify_ok(
        tmp.path(),
        &[
            "etl",
            "--input",
            sample().to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
    );
    tmp
}

#[test]
fn reference_counts() {
    let tmp = run_sample();
    let w = tmp.path().join("warehouse");
    for (table, rows) in [
        ("songplays", 6820),
        ("users", 97),
        ("songs", 71),
        ("artists", 69),
        ("time", 6813),
    ] {
        assert_eq!(read_table(&w, table).num_rows(), rows, "{table}");
    }
    assert!(w.join("_rejects").is_dir());
}

#[test]
fn the_one_matched_play() {
    let tmp = run_sample();
    let plays = read_table(&tmp.path().join("warehouse"), "songplays");
    let songs = col::<StringArray>(&plays, "song_id");
    let matched: Vec<usize> = (0..plays.num_rows())
        .filter(|&i| songs.is_valid(i))
        .collect();
    assert_eq!(matched.len(), 1);
    let i = matched[0];
    assert_eq!(songs.value(i), "SOZCTXZ12AB0182364");
    assert_eq!(
        col::<StringArray>(&plays, "artist_id").value(i),
        "AR5KOSW1187FB35FF4"
    );
    assert_eq!(col::<Int32Array>(&plays, "user_id").value(i), 15);
    assert_eq!(col::<Int32Array>(&plays, "session_id").value(i), 818);
    assert_eq!(col::<StringArray>(&plays, "level").value(i), "paid");
    assert_eq!(
        col::<TimestampMicrosecondArray>(&plays, "start_time").value(i),
        1_542_837_407_796_000
    );
    // md5("1542837407796|15|818|5"), first 15 hex digits.
    assert_eq!(
        col::<Int64Array>(&plays, "songplay_id").value(i),
        0x79297c4e7993574
    );
}

#[test]
fn users_take_their_latest_level() {
    let tmp = run_sample();
    let users = read_table(&tmp.path().join("warehouse"), "users");
    let levels = col::<StringArray>(&users, "level");
    let paid = (0..users.num_rows())
        .filter(|&i| levels.value(i) == "paid")
        .count();
    assert_eq!((paid, users.num_rows() - paid), (22, 75));
    let ids = col::<Int32Array>(&users, "user_id");
    let row = (0..users.num_rows()).find(|&i| ids.value(i) == 80).unwrap();
    // User 80 started free and upgraded: the latest event says paid.
    assert_eq!(levels.value(row), "paid");
    assert_eq!(col::<StringArray>(&users, "first_name").value(row), "Tegan");
    assert_eq!(col::<StringArray>(&users, "last_name").value(row), "Levine");
    assert_eq!(
        col::<TimestampMicrosecondArray>(&users, "level_at").value(row),
        1_543_532_713_796_000
    );
}

#[test]
fn time_breakdown_of_a_real_play() {
    let tmp = run_sample();
    let time = read_table(&tmp.path().join("warehouse"), "time");
    let starts = col::<TimestampMicrosecondArray>(&time, "start_time");
    let row = (0..time.num_rows())
        .find(|&i| starts.value(i) == 1_542_837_407_796_000)
        .unwrap();
    let get = |c: &str| col::<Int32Array>(&time, c).value(row);
    // 2018-11-21 21:56:47.796 UTC: a Wednesday of ISO week 47.
    assert_eq!(
        [
            get("hour"),
            get("day"),
            get("week"),
            get("month"),
            get("year"),
            get("weekday")
        ],
        [21, 21, 47, 11, 2018, 3]
    );
}

#[test]
fn songs_and_artists_values() {
    let tmp = run_sample();
    let w = tmp.path().join("warehouse");
    let songs = read_table(&w, "songs");
    let ids = col::<StringArray>(&songs, "song_id");
    let row = (0..songs.num_rows())
        .find(|&i| ids.value(i) == "SOZCTXZ12AB0182364")
        .unwrap();
    assert_eq!(
        col::<StringArray>(&songs, "title").value(row),
        "Setanta matins"
    );
    assert_eq!(
        col::<Float64Array>(&songs, "duration").value(row),
        269.58322
    );
    let titles = col::<StringArray>(&songs, "title");
    assert!(
        (0..songs.num_rows()).any(|i| titles.value(i) == "Clementina Santafè"),
        "\\u escapes decoded"
    );
    let artists = read_table(&w, "artists");
    let ids = col::<StringArray>(&artists, "artist_id");
    let row = (0..artists.num_rows())
        .find(|&i| ids.value(i) == "ARGCY1Y1187B9A4FA5")
        .unwrap();
    assert_eq!(col::<StringArray>(&artists, "name").value(row), "Gloriana");
    assert_eq!(
        col::<StringArray>(&artists, "location").value(row),
        "Nashville, TN."
    );
    assert_eq!(
        col::<Float64Array>(&artists, "latitude").value(row),
        36.16778
    );
}

#[test]
fn parquet_types_are_what_redshift_copy_maps() {
    let tmp = run_sample();
    let w = tmp.path().join("warehouse");
    for table in sparkify::schema::TABLES {
        let batch = read_table(&w, table.name);
        assert_eq!(batch.schema(), table.arrow_schema(), "{}", table.name);
        let file = std::fs::File::open(w.join(table.name).join("part-00000.parquet")).unwrap();
        let reader = SerializedFileReader::new(file).unwrap();
        let meta = reader.metadata();
        let descr = meta.file_metadata().schema_descr();
        let names: Vec<&str> = descr.columns().iter().map(|c| c.name()).collect();
        let expected: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        assert_eq!(names, expected, "column order of {}", table.name);
        for (c, column) in descr.columns().iter().zip(table.columns) {
            let physical = c.physical_type();
            match column.ty.arrow_type() {
                DataType::Int64 => assert_eq!(physical, PhysicalType::INT64),
                DataType::Int32 => assert_eq!(physical, PhysicalType::INT32),
                DataType::Float64 => assert_eq!(physical, PhysicalType::DOUBLE),
                DataType::Utf8 => {
                    assert_eq!(physical, PhysicalType::BYTE_ARRAY);
                    assert_eq!(c.logical_type_ref(), Some(&LogicalType::String));
                }
                DataType::Timestamp(TimeUnit::Microsecond, None) => {
                    assert_eq!(physical, PhysicalType::INT64, "never INT96");
                    assert_eq!(
                        c.logical_type_ref(),
                        Some(&LogicalType::timestamp(false, PqTimeUnit::MICROS)),
                        "{}.{}: microseconds, never nanoseconds",
                        table.name,
                        column.name
                    );
                }
                other => panic!("unexpected type {other}"),
            }
        }
        for rg in meta.row_groups() {
            for c in rg.columns() {
                assert_eq!(c.compression(), Compression::SNAPPY);
            }
        }
    }
}

#[test]
fn reruns_give_identical_tables() {
    let a = run_sample();
    let b = run_sample();
    for table in ["songplays", "users", "songs", "artists", "time"] {
        let x = read_table(&a.path().join("warehouse"), table);
        let y = read_table(&b.path().join("warehouse"), table);
        assert!(same_rows(&x, &y), "{table} differs between runs");
    }
}
