//! The larger real song set (`../shared/data/large`, the S3 layout), bundled as a fixture.

mod common;

use arrow::array::StringArray;
use common::{col, large, read_table, sparkify_ok};

#[test]
fn large_reference_counts_and_numeric_text() {
    let input = large();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("w");
    let summary: serde_json::Value = serde_json::from_str(&sparkify_ok(
        tmp.path(),
        &[
            "etl",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(summary["matched_songplays"], 39);
    assert_eq!(summary["rejected"], 0);
    assert_eq!(read_table(&out, "songs").num_rows(), 1943);
    let artists = read_table(&out, "artists");
    assert_eq!(artists.num_rows(), 1809);

    // artist_name and artist_location written as JSON numbers load as their text.
    let ids = col::<StringArray>(&artists, "artist_id");
    let names = col::<StringArray>(&artists, "name");
    let locations = col::<StringArray>(&artists, "location");
    let artist = |id: &str| {
        let i = (0..artists.num_rows())
            .find(|&i| ids.value(i) == id)
            .unwrap();
        (names.value(i), locations.value(i))
    };
    assert_eq!(artist("ARIXSZZ1187B98D1F9").0, "112");
    assert_eq!(artist("AR8Y3UG1187B9A3468").0, "2562");
    assert_eq!(artist("ARBZIN01187FB362CC").1, "27");
    assert_eq!(
        artist("ARC0IOF1187FB3F6E6"),
        ("Huey Lewis & The News", "108")
    );
}
