//! One contract for every [`Source`]: the same tree of files, written to a local folder and put in
//! the in-process S3, must list and read the same through `LocalSource` and `S3Source`.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::mpsc::sync_channel;
use std::time::Duration;

use common::s3::{TestS3, ACCESS_KEY, REGION};
use sparkify::s3::{S3Location, S3Settings, StaticCredentials};
use sparkify::source::local::LocalSource;
use sparkify::source::s3::S3Source;
use sparkify::source::{list_input, Error, Fetched, InputFile, Limits, Source};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A log file of `n` lines.
fn lines(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| format!("{{\"ts\":{i},\"page\":\"NextSong\"}}\n"))
        .collect::<String>()
        .into_bytes()
}

/// The input tree both sources hold: (name relative to the root, content).
fn tree() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("song_data/A/B/TRA.json", br#"{"song_id":"SA"}"#.to_vec()),
        ("song_data/A/TRB.json", br#"{"song_id":"SB"}"#.to_vec()),
        ("song_data/B/TRC.json.gz", gzip(br#"{"song_id":"SC"}"#)),
        ("song_data/A/readme.txt", b"not input".to_vec()),
        // Hidden folders and files: notebook and editor leftovers, skipped by every source.
        (
            "song_data/.ipynb_checkpoints/TRA-checkpoint.json",
            b"{}".to_vec(),
        ),
        ("song_data/A/.TRA.json.swp.json", b"{}".to_vec()),
        ("log_data/2018/11/a-events.json", lines(300)),
        ("log_data/2018/11/b-events.json", Vec::new()),
        ("log_data/2018/12/c-events.json.gz", gzip(&lines(50))),
        ("log_data/.hidden/x-events.json", lines(1)),
        ("other/x.json", b"{}".to_vec()),
    ]
}

/// The files every source lists, sorted, with their stored sizes.
fn listed(dir: &str) -> Vec<InputFile> {
    let visible = |name: &str| {
        (name.ends_with(".json") || name.ends_with(".json.gz"))
            && !name.split('/').any(|s| s.starts_with('.'))
    };
    let mut files: Vec<InputFile> = tree()
        .into_iter()
        .filter(|(name, _)| name.starts_with(&format!("{dir}/")) && visible(name))
        .map(|(name, bytes)| InputFile {
            name: name.to_string(),
            size: bytes.len() as u64,
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

/// The content a source must deliver for `name`: decompressed when gzip.
fn content(name: &str) -> Vec<u8> {
    let (_, bytes) = tree().into_iter().find(|(n, _)| *n == name).unwrap();
    if name.ends_with(".gz") {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        bytes
    }
}

/// The same input in a local folder and in the in-process S3.
struct Both {
    dir: tempfile::TempDir,
    s3: TestS3,
}

impl Both {
    fn new(files: &[(&str, Vec<u8>)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let s3 = TestS3::start();
        s3.create_bucket("input");
        for (name, bytes) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
            s3.put("input", &format!("root/{name}"), bytes);
        }
        Self { dir, s3 }
    }

    /// Each source with `limits`, named.
    fn sources(&self, limits: Limits) -> Vec<(&'static str, Box<dyn Source>)> {
        let settings = S3Settings {
            region: Some(REGION.to_string()),
            endpoint_url: Some(self.s3.endpoint.clone()),
            credentials: Some(StaticCredentials::new(ACCESS_KEY, &self.s3.secret_key)),
            force_path_style: Some(true),
            initial_backoff: Duration::from_millis(5),
            ..S3Settings::default()
        };
        let location = S3Location::parse("s3://input/root").unwrap();
        let local = LocalSource::open(self.dir.path()).unwrap();
        let s3 = S3Source::connect(&settings, location).unwrap();
        vec![
            ("local", Box::new(local.with_limits(limits))),
            ("s3", Box::new(s3.with_limits(limits))),
        ]
    }

    /// Deletes a file from both stores.
    fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join(name)).unwrap();
        std::fs::remove_file(self.s3.path_of("input", &format!("root/{name}"))).unwrap();
    }
}

/// Everything `fetch` (or `fetch_lines` with parts of `part` bytes) sends, in order.
fn fetch(
    source: &dyn Source,
    files: &[InputFile],
    part: Option<usize>,
) -> Vec<Result<Fetched, Error>> {
    let (tx, rx) = sync_channel(4);
    std::thread::scope(|scope| {
        scope.spawn(move || match part {
            Some(part) => source.fetch_lines(files, part, tx),
            None => source.fetch(files, tx),
        });
        rx.into_iter().collect()
    })
}

/// The whole content of each file fetched, by listing position, parts joined.
fn joined(fetched: Vec<Result<Fetched, Error>>, files: &[InputFile]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new(); files.len()];
    let mut started = vec![false; files.len()];
    let mut last = 0;
    for f in fetched {
        let f = f.unwrap();
        assert!(f.index >= last, "{}: out of listing order", f.name);
        last = f.index;
        assert_eq!(f.name, files[f.index].name);
        assert_eq!(f.starts_file, !started[f.index], "{}: starts once", f.name);
        started[f.index] = true;
        out[f.index].extend_from_slice(&f.bytes);
    }
    assert!(started.iter().all(|s| *s), "every file sent");
    out
}

#[test]
fn sources_list_the_same_files_skipping_hidden_ones() {
    let both = Both::new(&tree());
    for (kind, source) in both.sources(Limits::default()) {
        for dir in ["song_data", "log_data"] {
            assert_eq!(source.list(dir).unwrap(), listed(dir), "{kind} {dir}");
        }
        assert!(source.list("nothing_here").unwrap().is_empty(), "{kind}");
        let (songs, logs) = list_input(source.as_ref()).unwrap();
        assert_eq!((songs.len(), logs.len()), (3, 3), "{kind}");
    }
}

#[cfg(unix)]
#[test]
fn the_local_source_skips_names_that_are_not_utf8_as_s3_cannot_hold_them() {
    use std::os::unix::ffi::OsStrExt;
    let both = Both::new(&tree());
    let odd = std::ffi::OsStr::from_bytes(b"\xff-events.json");
    std::fs::write(both.dir.path().join("log_data").join(odd), lines(1)).unwrap();
    for (kind, source) in both.sources(Limits::default()) {
        assert_eq!(
            source.list("log_data").unwrap(),
            listed("log_data"),
            "{kind}"
        );
    }
}

#[test]
fn sources_send_the_same_bytes_in_listing_order_whole_or_in_parts() {
    let both = Both::new(&tree());
    for (kind, source) in both.sources(Limits::default()) {
        for dir in ["song_data", "log_data"] {
            let files = source.list(dir).unwrap();
            let expected: Vec<Vec<u8>> = files.iter().map(|f| content(&f.name)).collect();
            assert_eq!(
                joined(fetch(source.as_ref(), &files, None), &files),
                expected,
                "{kind}"
            );
            let parts = joined(fetch(source.as_ref(), &files, Some(256)), &files);
            assert_eq!(parts, expected, "{kind} {dir} in parts");
            if let Some(read) = read_all(source.as_ref(), dir) {
                let mut expected: Vec<(String, Vec<u8>)> = files
                    .iter()
                    .map(|f| (f.name.clone(), content(&f.name)))
                    .collect();
                expected.sort();
                assert_eq!(read, expected, "{kind} {dir} read_all");
            }
        }
    }
}

/// What [`Source::read_all`] delivers, sorted by name; `None` when the source cannot.
fn read_all(source: &dyn Source, dir: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let got = std::sync::Mutex::new(Vec::new());
    let done = source.read_all(dir, &|name, bytes| {
        got.lock()
            .unwrap()
            .push((name.to_string(), bytes.unwrap().to_vec()));
        true
    })?;
    done.unwrap();
    let mut got = got.into_inner().unwrap();
    got.sort();
    Some(got)
}

#[test]
fn sources_reject_the_same_files_on_their_own() {
    let big = lines(200); // about 6 KB
    let files = vec![
        ("log_data/big.json.gz", gzip(&big)),
        ("log_data/broken.json.gz", b"not gzip at all".to_vec()),
        ("log_data/ok.json", lines(2)),
        ("song_data/huge.json", big.clone()),
    ];
    let both = Both::new(&files);
    let limits = Limits {
        max_file_bytes: 4096,
    };
    for (kind, source) in both.sources(limits) {
        let logs = source.list("log_data").unwrap();
        let got = fetch(source.as_ref(), &logs, None);
        assert_eq!(
            got.len(),
            3,
            "{kind}: one result per file, rejects included"
        );
        let big = got[0].as_ref().unwrap_err();
        assert!(
            matches!(
                big,
                Error::TooLarge {
                    decompressed: true,
                    ..
                }
            ),
            "{kind}: {big}"
        );
        let broken = got[1].as_ref().unwrap_err();
        assert!(matches!(broken, Error::Gzip { .. }), "{kind}: {broken}");
        assert!(big.is_file_reject() && broken.is_file_reject(), "{kind}");
        assert_eq!(got[2].as_ref().unwrap().bytes, lines(2), "{kind}");

        let songs = source.list("song_data").unwrap();
        let got = fetch(source.as_ref(), &songs, None);
        let huge = got[0].as_ref().unwrap_err();
        assert!(
            matches!(
                huge,
                Error::TooLarge {
                    decompressed: false,
                    ..
                }
            ),
            "{kind}: {huge}"
        );
        assert!(
            huge.to_string().contains("more than --max-file-bytes 4096"),
            "{kind}: {huge}"
        );
    }
}

#[test]
fn a_file_deleted_after_listing_is_not_found_in_every_source() {
    let both = Both::new(&tree());
    let listings: Vec<_> = both
        .sources(Limits::default())
        .into_iter()
        .map(|(kind, source)| {
            let files = source.list("log_data").unwrap();
            (kind, source, files)
        })
        .collect();
    both.remove("log_data/2018/11/a-events.json");
    for (kind, source, files) in listings {
        for part in [None, Some(256)] {
            let got = fetch(source.as_ref(), &files, part);
            let err = got[0].as_ref().unwrap_err();
            assert!(
                matches!(err, Error::NotFound { path, .. } if path.ends_with("log_data/2018/11/a-events.json")),
                "{kind} {part:?}: {err}"
            );
            assert!(err.to_string().contains("does not exist"), "{kind}: {err}");
            assert!(
                std::error::Error::source(err).is_some(),
                "{kind}: the cause is kept"
            );
            assert!(
                !err.is_file_reject(),
                "{kind}: a vanished input stops the run"
            );
        }
    }
}

#[test]
fn an_input_without_songs_or_logs_is_empty_in_every_source() {
    let both = Both::new(&[("other/x.json", b"{}".to_vec())]);
    for (kind, source) in both.sources(Limits::default()) {
        let err = list_input(source.as_ref()).unwrap_err();
        assert!(matches!(err, Error::Empty { .. }), "{kind}: {err}");
        assert!(
            err.to_string().contains("{song_data,log_data}"),
            "{kind}: {err}"
        );
    }
    let root = both.dir.path().display().to_string();
    let describes: Vec<String> = both
        .sources(Limits::default())
        .iter()
        .map(|(_, s)| s.describe())
        .collect();
    assert_eq!(describes, [root, "s3://input/root".to_string()]);
    assert!(Path::new(&describes[0]).is_dir());
}
