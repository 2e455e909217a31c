//! The adversarial corpus (`tests/corpus/`): one input file per case, each with its expected outcome.
//! Every case is run through the real pipeline; none may panic, and the accounting identity
//! `event lines = songplays + other events + duplicates + rejected` must hold in every one.

use std::path::{Path, PathBuf};

use sparkify::parse::Reject;
use sparkify::sink::rejects::{read_rejects, RejectSink};
use sparkify::source::local::LocalSource;
use sparkify::summary::EtlSummary;
use sparkify::transform::{transform, TransformOptions};
use sparkify::Progress;

/// The six real lines every log case starts from: 2 other events, then 4 song plays.
const BASE_LINES: u64 = 6;
const BASE_PLAYS: u64 = 4;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Runs the pipeline on one log file (and the given song files) laid out as a real input.
fn run_files(log: Option<(&str, Vec<u8>)>, songs: &[&str]) -> (EtlSummary, Vec<Reject>) {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(input.join("log_data")).unwrap();
    std::fs::create_dir_all(input.join("song_data")).unwrap();
    if let Some((name, bytes)) = log {
        std::fs::write(input.join("log_data").join(name), bytes).unwrap();
    }
    for song in songs {
        let from = corpus().join("songs").join(song);
        std::fs::copy(from, input.join("song_data").join(song)).unwrap();
    }
    let sample_song =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/song_data/A/A/A/TRAAAAW128F429D538.json");
    std::fs::copy(sample_song, input.join("song_data/sample.json")).unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let source = LocalSource::open(&input).unwrap();
    let (summary, rejects) = transform_collecting(&source, &out);
    assert!(summary.accounting_holds(), "{}", summary.render());
    (summary, rejects)
}

/// Runs the transform into `out` with every reject tolerated; the summary and the rejects read
/// back from the rejects file.
fn transform_collecting(
    source: &dyn sparkify::source::Source,
    out: &Path,
) -> (EtlSummary, Vec<Reject>) {
    let sink = RejectSink::create(out, u64::MAX).unwrap();
    let summary = transform(
        source,
        out,
        &TransformOptions::default(),
        &sink,
        &Progress::hidden(),
    )
    .unwrap();
    let rejects = match sink.finish().unwrap().file {
        Some(file) => read_rejects(&file).unwrap(),
        None => Vec::new(),
    };
    assert_eq!(summary.rejected, rejects.len() as u64);
    (summary, rejects)
}

fn run_case(file: &str) -> (EtlSummary, Vec<Reject>) {
    run_files(
        Some((file, std::fs::read(corpus().join(file)).unwrap())),
        &[],
    )
}

fn assert_clean(file: &str) {
    let (s, rejects) = run_case(file);
    assert!(rejects.is_empty(), "{file}: {rejects:?}");
    assert_eq!(
        (s.event_lines, s.rows("songplays")),
        (BASE_LINES, BASE_PLAYS),
        "{file}"
    );
}

/// Checks a case that adds rejected lines after the base lines.
fn assert_rejects(file: &str, reasons: &[&str]) {
    let (s, rejects) = run_case(file);
    assert_eq!(s.rows("songplays"), BASE_PLAYS, "{file}");
    assert_eq!(rejects.len(), reasons.len(), "{file}: {rejects:?}");
    for (r, want) in rejects.iter().zip(reasons) {
        assert!(
            r.reason.contains(want),
            "{file}: {} does not say {want}",
            r.reason
        );
        assert_eq!(r.file, format!("log_data/{file}"));
        assert!(r.line > BASE_LINES, "{file}: line {}", r.line);
    }
}

#[test]
fn bom_crlf_and_blank_lines_are_clean() {
    for file in ["bom.json", "crlf.json", "blank_lines.json"] {
        assert_clean(file);
    }
}

#[test]
fn a_zero_byte_file_holds_nothing() {
    let (s, rejects) = run_case("empty.json");
    assert!(rejects.is_empty());
    assert_eq!((s.event_lines, s.log_files), (0, 1));
}

#[test]
fn truncated_object_and_invalid_utf8_are_rejected() {
    assert_rejects("truncated_object.json", &["invalid JSON"]);
    assert_rejects("invalid_utf8.json", &["invalid JSON"]);
}

#[test]
fn deeply_nested_values_are_rejected_without_a_stack_overflow() {
    assert_rejects("deeply_nested.json", &["invalid JSON"]);
}

#[test]
fn numbers_out_of_range_are_rejected() {
    assert_rejects(
        "user_id_beyond_i32.json",
        &["field `userId` is not a 32-bit user id"],
    );
    assert_rejects("ts_negative.json", &["outside 1970..=9999"]);
    assert_rejects("ts_year_10000.json", &["outside 1970..=9999"]);
}

#[test]
fn wrong_types_in_every_field_are_rejected() {
    assert_rejects(
        "wrong_types.json",
        &[
            "field `ts` is not an integer",
            "field `ts` is not an integer",
            "field `page` is not text",
            "field `sessionId` is not an integer",
            "field `itemInSession` is not an integer",
            "field `userId` is not a 32-bit user id",
            "field `level` is not text",
            "field `firstName` is not text",
            "field `length` is not a number",
            "field `song` is not text",
            "field `artist` is not text",
        ],
    );
}

#[test]
fn numbers_where_text_is_expected_are_accepted() {
    let (s, rejects) = run_case("number_text.json");
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(s.rows("songplays"), BASE_PLAYS + 1);
}

#[test]
fn a_song_play_without_a_user_is_rejected() {
    assert_rejects("no_user_song_play.json", &["NextSong event without a user"]);
}

#[test]
fn duplicate_lines_collapse_to_one_songplay() {
    let (s, rejects) = run_case("duplicate_lines.json");
    assert!(rejects.is_empty());
    assert_eq!(s.event_lines, BASE_LINES + 3);
    // The repeated line is also one of the base lines: all three copies are duplicates.
    assert_eq!(s.duplicate_events, 3);
    assert_eq!(s.rows("songplays"), BASE_PLAYS);
}

#[test]
fn a_line_over_the_limit_is_rejected_unparsed() {
    let mut bytes = std::fs::read(corpus().join("bom.json")).unwrap();
    bytes.extend_from_slice(b"\n{\"pad\":\"");
    bytes.extend(std::iter::repeat_n(b'x', sparkify::parse::MAX_RECORD_BYTES));
    bytes.extend_from_slice(b"\"}");
    let (s, rejects) = run_files(Some(("huge.json", bytes)), &[]);
    assert_eq!(s.rows("songplays"), BASE_PLAYS);
    assert_eq!(rejects.len(), 1);
    assert!(
        rejects[0].reason.contains("exceeds the 1048576-byte limit"),
        "{}",
        rejects[0].reason
    );
    assert!(
        rejects[0].raw.len() <= 4096,
        "raw text of a huge record is bounded"
    );
}

#[test]
fn a_corrupt_gzip_file_is_one_reject() {
    let (s, rejects) = run_case("corrupt.json.gz");
    assert_eq!(rejects.len(), 1);
    assert!(
        rejects[0].reason.starts_with("cannot decompress"),
        "{}",
        rejects[0].reason
    );
    assert_eq!((s.event_lines, s.rejected_events), (1, 1));
}

#[test]
fn song_files_with_two_objects_truncation_and_missing_ids() {
    let (s, rejects) = run_files(
        None,
        &["two_objects.json", "truncated.json", "missing_song_id.json"],
    );
    // sample.json + two_objects.json (2) are songs; the sample song repeats in two_objects.json.
    assert_eq!(s.rows("songs"), 2);
    assert_eq!(s.duplicate_songs, 1);
    let mut reasons: Vec<&str> = rejects.iter().map(|r| r.reason.as_str()).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "required field `song_id` is missing or empty",
            "truncated JSON object"
        ]
    );
}

/// A source whose keys try to climb out of the output folder (`../` in an S3 key).
struct HostileNames;

impl sparkify::source::Source for HostileNames {
    fn describe(&self) -> String {
        "hostile".into()
    }

    fn list(&self, dir: &str) -> sparkify::source::Result<Vec<sparkify::source::InputFile>> {
        Ok(vec![sparkify::source::InputFile {
            name: format!("{dir}/../../../escape.json"),
            size: 10,
        }])
    }

    fn fetch(
        &self,
        files: &[sparkify::source::InputFile],
        tx: std::sync::mpsc::SyncSender<sparkify::source::Result<sparkify::source::Fetched>>,
    ) {
        for (index, f) in files.iter().enumerate() {
            let _ = tx.send(Ok(sparkify::source::Fetched {
                index,
                name: f.name.clone(),
                bytes: bytes::Bytes::from_static(b"{not json\n"),
                starts_file: true,
            }));
        }
    }
}

#[test]
fn input_names_with_dot_dot_never_become_output_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("a/b/out");
    std::fs::create_dir_all(&out).unwrap();
    let (summary, rejects) = transform_collecting(&HostileNames, &out);
    assert_eq!(
        summary.rejected, 2,
        "the bad song and log lines are rejects"
    );
    assert!(rejects
        .iter()
        .all(|r| r.file.contains("../../../escape.json")));
    // Nothing was written anywhere but the five table folders and the rejects inside the output.
    let mut written: Vec<PathBuf> = Vec::new();
    let mut stack = vec![tmp.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                written.push(p);
            }
        }
    }
    assert!(!written.is_empty());
    for p in written {
        let rel = p
            .strip_prefix(&out)
            .unwrap_or_else(|_| panic!("{} is outside the output", p.display()));
        let table = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            ["songplays", "users", "songs", "artists", "time", "_rejects"]
                .contains(&table.as_str()),
            "{}",
            p.display()
        );
    }
}
