//! Every bad-input case of the contract, one test each, on copies of the real sample.

mod common;

use std::path::Path;

use arrow::array::StringArray;
use common::{col, copy_sample, read_table, sparkify, sparkify_ok};

const DAY: &str = "log_data/2018/11/2018-11-03-events.json";

/// A temp copy of the sample with logs of days 3 and 4 only.
fn input() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_sample(&tmp.path().join("in"), |d| d == 3 || d == 4);
    tmp
}

fn edit(tmp: &Path, file: &str, f: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    let path = tmp.join("in").join(file);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, f(bytes)).unwrap();
}

fn etl_json(tmp: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["etl", "--input", "in", "--output", "out", "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&sparkify_ok(tmp, &args)).unwrap()
}

fn baseline() -> serde_json::Value {
    let tmp = input();
    etl_json(tmp.path(), &[])
}

fn table_rows(summary: &serde_json::Value) -> Vec<(String, u64)> {
    summary["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["rows"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn rejects(tmp: &Path, dir: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(tmp.join(dir).join("_rejects/part-00000.ndjson")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Applies a tolerated oddity and checks the tables are exactly the baseline's, with no rejects.
fn tolerated(f: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    let tmp = input();
    edit(tmp.path(), DAY, f);
    let s = etl_json(tmp.path(), &[]);
    assert_eq!(s["rejected"], 0, "{s}");
    assert_eq!(table_rows(&s), table_rows(&baseline()));
}

#[test]
fn bom_is_tolerated() {
    tolerated(|b| [&b"\xEF\xBB\xBF"[..], &b].concat());
}

#[test]
fn crlf_is_tolerated() {
    tolerated(|b| {
        String::from_utf8(b)
            .unwrap()
            .replace('\n', "\r\n")
            .into_bytes()
    });
}

#[test]
fn blank_lines_and_final_newline_are_tolerated() {
    tolerated(|b| {
        let text = String::from_utf8(b).unwrap().replace('\n', "\n\n   \n");
        format!("\n{text}\n\n").into_bytes()
    });
}

#[test]
fn unknown_fields_are_tolerated() {
    tolerated(|b| {
        String::from_utf8(b)
            .unwrap()
            .replace(
                "{\"artist\"",
                "{\"extra\":{\"nested\":[1,{\"a\":null}]},\"artist\"",
            )
            .into_bytes()
    });
}

#[test]
fn pretty_and_concatenated_song_objects_are_read() {
    let tmp = input();
    let one = "song_data/A/A/A/TRAAAAW128F429D538.json";
    let other = "song_data/A/A/A/TRAAABD128F429CF47.json";
    let second = std::fs::read_to_string(tmp.path().join("in").join(other)).unwrap();
    std::fs::remove_file(tmp.path().join("in").join(other)).unwrap();
    edit(tmp.path(), one, |b| {
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        format!("{pretty}\r\n{second}").into_bytes()
    });
    let s = etl_json(tmp.path(), &[]);
    assert_eq!(s["rejected"], 0);
    assert_eq!(s["song_records"], 71);
    let songs = read_table(&tmp.path().join("out"), "songs");
    assert_eq!(songs.num_rows(), 71);
}

/// The title the `songs` table holds for `song_id`.
fn song_title(out: &Path, song_id: &str) -> String {
    let songs = read_table(out, "songs");
    let ids = col::<StringArray>(&songs, "song_id");
    let row = (0..songs.num_rows()).find(|&i| ids.value(i) == song_id);
    col::<StringArray>(&songs, "title")
        .value(row.expect("the song"))
        .to_string()
}

#[test]
fn a_repeated_song_id_keeps_the_first_file_by_name_whatever_its_folder() {
    // Song files are read as their folders are listed, on several threads: the winner must not
    // depend on which thread got there first, only on the file names.
    let tmp = input();
    let song = "song_data/A/B/C/TRABCAJ12903CDFCC2.json";
    let text = std::fs::read_to_string(tmp.path().join("in").join(song)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (id, title) = (v["song_id"].as_str().unwrap(), v["title"].as_str().unwrap());
    let retitled = |t: &str| {
        text.replace(
            &format!("\"title\": \"{title}\""),
            &format!("\"title\": \"{t}\""),
        )
    };
    for (file, t) in [
        ("song_data/B/later.json", "in a later folder"),
        ("song_data/A/A/C/zzz.json", "first by name"),
        ("song_data/A/B/C/TRABCAJ12903CDFCC2X.json", "a longer name"),
    ] {
        let path = tmp.path().join("in").join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, retitled(t)).unwrap();
    }
    let s = etl_json(tmp.path(), &[]);
    assert_eq!(
        (s["song_files"].as_u64(), s["duplicate_songs"].as_u64()),
        (Some(74), Some(3))
    );
    assert_eq!(song_title(&tmp.path().join("out"), id), "first by name");
}

#[test]
fn gzipped_song_files_are_read_and_a_corrupt_one_is_one_reject() {
    use std::io::Write;
    let tmp = input();
    let song = tmp
        .path()
        .join("in/song_data/A/A/A/TRAAAAW128F429D538.json");
    let bytes = std::fs::read(&song).unwrap();
    std::fs::remove_file(&song).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    std::fs::write(song.with_extension("json.gz"), gz.finish().unwrap()).unwrap();
    let broken = tmp.path().join("in/song_data/A/B/broken.json.gz");
    std::fs::write(broken, b"\x1f\x8bnot gzip").unwrap();
    let s = etl_json(tmp.path(), &["--max-bad-records", "1"]);
    assert_eq!(
        (s["song_files"].as_u64(), s["rejected"].as_u64()),
        (Some(72), Some(1))
    );
    assert_eq!(s["song_records"], 72);
    let r = &rejects(tmp.path(), "out")[0];
    assert_eq!(r["file"], "song_data/A/B/broken.json.gz");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .starts_with("cannot decompress"),
        "{r}"
    );
    let out = tmp.path().join("out");
    assert_eq!(song_title(&out, "SOMZWCG12A8C13C480"), "I Didn't Mean To");
    assert_eq!(read_table(&out, "songs").num_rows(), 71);
}

#[test]
fn numbers_where_text_is_expected_become_text() {
    let tmp = input();
    edit(tmp.path(), "song_data/A/A/A/TRAAAAW128F429D538.json", |b| {
        String::from_utf8(b)
            .unwrap()
            .replace("\"artist_name\": \"Casual\"", "\"artist_name\": 112")
            .into_bytes()
    });
    etl_json(tmp.path(), &[]);
    let artists = read_table(&tmp.path().join("out"), "artists");
    let ids = col::<StringArray>(&artists, "artist_id");
    let row = (0..artists.num_rows())
        .find(|&i| ids.value(i) == "ARD7TVE1187B99BFB1")
        .unwrap();
    assert_eq!(col::<StringArray>(&artists, "name").value(row), "112");
}

/// Breaks line 2 of the day file with `f`, runs with `--max-bad-records 1`, and checks the reject.
fn rejected(f: impl FnOnce(&str) -> String, reason: &str) {
    let tmp = input();
    let mut original = String::new();
    edit(tmp.path(), DAY, |b| {
        let text = String::from_utf8(b).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        original = lines[1].clone();
        lines[1] = f(&lines[1]);
        lines.join("\n").into_bytes()
    });
    let s = etl_json(tmp.path(), &["--max-bad-records", "1"]);
    assert_eq!(s["rejected"], 1, "{s}");
    assert_eq!(s["rejected_events"], 1);
    let r = &rejects(tmp.path(), "out")[0];
    assert_eq!(r["file"], DAY);
    assert_eq!(r["line"], 2);
    assert!(r["reason"].as_str().unwrap().contains(reason), "{r}");
    assert_ne!(r["raw"], original.as_str());
    let base = baseline();
    assert_eq!(s["event_lines"], base["event_lines"]);
}

#[test]
fn malformed_json_line_is_rejected() {
    rejected(|l| l[..l.len() / 2].to_string(), "invalid JSON");
}

#[test]
fn wrong_type_is_rejected() {
    rejected(
        |l| {
            l.replace("\"ts\":", "\"ts\":\"x")
                .replacen(",\"userAgent\"", "\",\"userAgent\"", 1)
        },
        "field `ts` is not an integer",
    );
}

#[test]
fn missing_required_field_is_rejected() {
    rejected(
        |l| l.replace("\"sessionId\"", "\"sessionIdx\""),
        "required field `sessionId` is missing",
    );
}

#[test]
fn song_play_without_user_is_rejected() {
    rejected(
        |l| {
            let start = l.find("\"userId\":\"").unwrap();
            format!("{}\"userId\":\"\"}}", &l[..start])
                .replace("\"page\":\"Home\"", "\"page\":\"NextSong\"")
                .replace("\"page\":\"Login\"", "\"page\":\"NextSong\"")
        },
        "NextSong event without a user",
    );
}

#[test]
fn invalid_utf8_is_rejected_not_a_panic() {
    let tmp = input();
    edit(tmp.path(), DAY, |b| {
        let mut b = b;
        let pos = b.iter().position(|&c| c == b'\n').unwrap() + 20;
        b[pos] = 0xff;
        b
    });
    let s = etl_json(tmp.path(), &["--max-bad-records", "5"]);
    assert_eq!(s["rejected"], 1);
    let r = &rejects(tmp.path(), "out")[0];
    assert_eq!(r["line"], 2);
    assert!(r["raw"].as_str().unwrap().contains('\u{FFFD}'));
}

#[test]
fn too_many_bad_records_fail_and_publish_nothing() {
    let tmp = input();
    // A first good run publishes an output…
    etl_json(tmp.path(), &[]);
    let before = read_table(&tmp.path().join("out"), "songplays");
    // …then a broken line with the default limit of 0 fails with exit code 1.
    edit(tmp.path(), DAY, |b| [&b[..], b"\n{not json"].concat());
    let out = sparkify(tmp.path(), &["etl", "--input", "in", "--output", "out"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("1 rejected records exceed --max-bad-records 0"),
        "{stderr}"
    );
    assert!(stderr.contains(DAY), "{stderr}");
    // The previous output is intact and the rejects are kept beside it.
    let after = read_table(&tmp.path().join("out"), "songplays");
    assert!(common::same_rows(&before, &after));
    assert_eq!(rejects(tmp.path(), "out.failed").len(), 1);
    assert!(!tmp.path().join("out.failed/songplays").exists());
    // Allowing one bad record lets the same input through.
    let s = etl_json(tmp.path(), &["--max-bad-records", "1"]);
    assert_eq!(s["rejected"], 1);
}

/// A log file larger than the reader's parts (16 MB) and the parse pieces (4 MB): rejects keep the
/// file's own line numbers, and every line is counted once.
#[test]
fn line_numbers_hold_across_the_parts_of_a_large_file() {
    let tmp = input();
    let path = tmp.path().join("in").join(DAY);
    let day = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = day.lines().collect();
    let mut out = Vec::new();
    let mut bad_at = Vec::new();
    let mut line_count = 0;
    while out.len() < 40 << 20 {
        for line in &lines {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        // One broken line after each copy of the day; line numbers count from 1.
        out.extend_from_slice(b"{broken\n");
        line_count += lines.len() as u64 + 1;
        bad_at.push(line_count);
    }
    let total_lines = *bad_at.last().unwrap();
    std::fs::write(&path, &out).unwrap();

    let s = etl_json(tmp.path(), &["--max-bad-records", "100000"]);
    let rejected = rejects(tmp.path(), "out");
    let got: Vec<u64> = rejected
        .iter()
        .filter(|r| r["file"] == DAY)
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(got, bad_at);
    assert_eq!(rejected[0]["raw"], "{broken");
    let other_day_lines = baseline()["event_lines"].as_u64().unwrap() - lines.len() as u64;
    assert_eq!(
        s["event_lines"].as_u64().unwrap(),
        total_lines + other_day_lines
    );
}
