//! Tests of the generator: determinism, file layout and formats, and the matched-event count.

use super::json::{double_mojibake, push_fixed5, push_json_str};
use super::*;
use crate::calendar::{date_of, index_of_ts};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const LOG_KEYS: [&str; 18] = [
    "artist",
    "auth",
    "firstName",
    "gender",
    "itemInSession",
    "lastName",
    "length",
    "level",
    "location",
    "method",
    "page",
    "registration",
    "sessionId",
    "song",
    "status",
    "ts",
    "userAgent",
    "userId",
];
const SONG_KEYS: [&str; 10] = [
    "artist_id",
    "artist_latitude",
    "artist_location",
    "artist_longitude",
    "artist_name",
    "duration",
    "num_songs",
    "song_id",
    "title",
    "year",
];

/// A fresh, unique folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("sparkify-gen-{}-{name}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn opts(dir: &Path, songs: u64, events: u64, seed: u64) -> GenerateOptions {
    GenerateOptions {
        output: dir.to_path_buf(),
        songs,
        events,
        seed,
        match_rate: 0.5,
        days: 5,
    }
}

/// All files under `root` as (relative path, bytes), sorted.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            // The data, as its readers see it: hidden files (the marker) are not data.
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                assert_eq!(path.file_name().unwrap(), MARKER);
                continue;
            }
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Top-level keys of a flat JSON object, in order (values are scalars only).
fn keys_in_order(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let mut keys = Vec::new();
    let mut i = 1;
    let read_string = |i: &mut usize| -> String {
        let start = *i + 1;
        *i += 1;
        while b[*i] != b'"' {
            *i += if b[*i] == b'\\' { 2 } else { 1 };
        }
        *i += 1;
        line[start..*i - 1].to_string()
    };
    while i < b.len() && b[i] != b'}' {
        while b[i].is_ascii_whitespace() || b[i] == b',' {
            i += 1;
        }
        keys.push(read_string(&mut i));
        while b[i] != b':' {
            i += 1;
        }
        i += 1;
        while b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b[i] == b'"' {
            read_string(&mut i);
        } else {
            while b[i] != b',' && b[i] != b'}' && !b[i].is_ascii_whitespace() {
                i += 1;
            }
        }
        while b[i].is_ascii_whitespace() {
            i += 1;
        }
    }
    keys
}

fn song_objects(files: &BTreeMap<String, Vec<u8>>) -> Vec<Value> {
    files
        .iter()
        .filter(|(k, _)| k.starts_with("song_data"))
        .flat_map(|(_, v)| {
            let text = std::str::from_utf8(v).unwrap().to_string();
            serde_json::Deserializer::from_str(&text)
                .into_iter::<Value>()
                .map(|r| r.unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn log_lines(files: &BTreeMap<String, Vec<u8>>) -> Vec<(String, String)> {
    files
        .iter()
        .filter(|(k, _)| k.starts_with("log_data"))
        .flat_map(|(k, v)| {
            let text = std::str::from_utf8(v).unwrap();
            text.split('\n')
                .map(|l| (k.clone(), l.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let (a, b, c) = (TempDir::new("a"), TempDir::new("b"), TempDir::new("c"));
    let sa = generate(&opts(&a.0, 300, 20_000, 7)).unwrap();
    let sb = generate_with_threads(&opts(&b.0, 300, 20_000, 7), 1).unwrap();
    generate(&opts(&c.0, 300, 20_000, 8)).unwrap();
    assert_eq!(sa, sb);
    let (ta, tb, tc) = (tree(&a.0), tree(&b.0), tree(&c.0));
    assert_eq!(ta.len() as u64, sa.song_files + sa.log_files);
    assert_eq!(ta.values().map(|v| v.len() as u64).sum::<u64>(), sa.bytes);
    assert!(ta == tb, "same seed, different thread count: trees differ");
    assert!(ta != tc, "different seeds gave identical trees");
}

#[test]
fn rerun_replaces_previous_output() {
    let dir = TempDir::new("rerun");
    generate(&opts(&dir.0, 200, 5_000, 1)).unwrap();
    fs::write(dir.0.join("keep.txt"), "other").unwrap();
    let s = generate(&opts(&dir.0, 50, 1_000, 2)).unwrap();
    let files = tree(&dir.0);
    assert_eq!(files.len() as u64, s.song_files + s.log_files + 1);
    assert_eq!(files["keep.txt"], b"other");
    assert_eq!(s.events, 1_000);
}

#[test]
fn log_lines_are_valid_and_consistent() {
    let dir = TempDir::new("logs");
    let s = generate(&opts(&dir.0, 500, 30_000, 3)).unwrap();
    let files = tree(&dir.0);
    let mut users: HashMap<String, Vec<Value>> = HashMap::new();
    let mut sessions: HashMap<u64, String> = HashMap::new();
    let mut items = HashSet::new();
    let mut pages: HashMap<String, u64> = HashMap::new();
    let (mut next_songs, mut lines, mut prev_ts) = (0, 0, (String::new(), 0));
    for (file, line) in log_lines(&files) {
        lines += 1;
        assert!(line.is_ascii() && !line.is_empty());
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(keys_in_order(&line), LOG_KEYS);
        let page = v["page"].as_str().unwrap().to_string();
        let user_id = v["userId"].as_str().unwrap().to_string();
        let ts = v["ts"].as_u64().unwrap();
        assert_eq!(ts % 1000, 796);
        let key = (
            v["sessionId"].as_u64().unwrap(),
            v["itemInSession"].as_u64().unwrap(),
        );
        assert!(
            items.insert(key),
            "(sessionId, itemInSession) {key:?} repeats"
        );
        // Sorted by ts within the file, and on the file's UTC date.
        if prev_ts.0 == file {
            assert!(ts >= prev_ts.1, "{file} not sorted");
        }
        prev_ts = (file.clone(), ts);
        let (y, m, d) = date_of(index_of_ts(ts as i64));
        assert!(file.ends_with(&format!("{y:04}/{m:02}/{y:04}-{m:02}-{d:02}-events.json")));
        let is_song = page == "NextSong";
        for key in ["song", "artist", "length"] {
            assert_eq!(!v[key].is_null(), is_song, "{key} on {line}");
        }
        if is_song {
            next_songs += 1;
            assert!(!user_id.is_empty());
            assert_eq!(v["method"], "PUT");
        }
        if user_id.is_empty() {
            assert_eq!(v["auth"], "Logged Out");
            assert!(
                ["Home", "Login", "About", "Help"].contains(&page.as_str()),
                "{page}"
            );
            for key in [
                "firstName",
                "lastName",
                "gender",
                "location",
                "registration",
                "userAgent",
            ] {
                assert!(v[key].is_null());
            }
        } else {
            assert_eq!(v["auth"], "Logged In");
            assert!(
                line.contains(".0,\"sessionId\""),
                "registration is float text"
            );
            let sid = v["sessionId"].as_u64().unwrap();
            let owner = sessions.entry(sid).or_insert_with(|| user_id.clone());
            assert_eq!(*owner, user_id, "session shared by two users");
            users.entry(user_id).or_default().push(v.clone());
        }
        *pages.entry(page).or_default() += 1;
    }
    assert_eq!(lines, s.events);
    assert_eq!(next_songs, s.next_song_events);
    let share = next_songs as f64 / lines as f64;
    assert!((0.78..0.92).contains(&share), "NextSong share {share}");
    for page in [
        "Home",
        "Login",
        "Logout",
        "Settings",
        "Help",
        "About",
        "Downgrade",
        "Upgrade",
    ] {
        assert!(
            pages.get(page).copied().unwrap_or(0) > 0,
            "no {page} events"
        );
    }
    assert!(pages.contains_key("Submit Upgrade"));
    check_users(&users);
}

/// Fixed user attributes never vary; level changes only right after a Submit page.
fn check_users(users: &HashMap<String, Vec<Value>>) {
    let mut changes = 0;
    for events in users.values() {
        let mut events = events.clone();
        events.sort_by_key(|e| {
            (
                e["ts"].as_u64(),
                e["sessionId"].as_u64(),
                e["itemInSession"].as_u64(),
            )
        });
        for key in [
            "firstName",
            "lastName",
            "gender",
            "location",
            "userAgent",
            "registration",
        ] {
            assert!(
                events.iter().all(|e| e[key] == events[0][key]),
                "{key} varies"
            );
        }
        for pair in events.windows(2) {
            if pair[0]["level"] != pair[1]["level"] {
                changes += 1;
                let prev = pair[0]["page"].as_str().unwrap();
                assert!(prev.starts_with("Submit "), "level changed after {prev}");
            }
        }
    }
    assert!(changes > 0, "no level changes");
}

#[test]
fn matched_events_recount() {
    let dir = TempDir::new("match");
    let mut o = opts(&dir.0, 2_000, 40_000, 11);
    o.match_rate = 0.3;
    let s = generate(&o).unwrap();
    let files = tree(&dir.0);
    let songs = song_objects(&files);
    assert!(songs.len() as u64 >= s.song_files);
    let keys: HashSet<(String, String, u64)> = songs
        .iter()
        .filter_map(|v| {
            let title = v["title"].as_str()?.to_string();
            let artist = v["artist_name"].as_str()?.to_string();
            Some((title, artist, v["duration"].as_f64()?.to_bits()))
        })
        .collect();
    let mut matched = 0;
    for (_, line) in log_lines(&files) {
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["page"] != "NextSong" {
            continue;
        }
        let key = (
            v["song"].as_str().unwrap().to_string(),
            v["artist"].as_str().unwrap().to_string(),
            v["length"].as_f64().unwrap().to_bits(),
        );
        matched += u64::from(keys.contains(&key));
    }
    assert_eq!(matched, s.matched_events);
    let share = matched as f64 / s.next_song_events as f64;
    assert!((share - 0.3).abs() < 0.03, "match share {share}");
}

#[test]
fn song_files_look_like_s3() {
    let dir = TempDir::new("songs");
    let s = generate(&opts(&dir.0, 6_000, 100, 5)).unwrap();
    let files = tree(&dir.0);
    let song_files: Vec<_> = files
        .iter()
        .filter(|(k, _)| k.starts_with("song_data"))
        .collect();
    assert_eq!(song_files.len() as u64, s.song_files);
    let (mut pretty, mut doubled, mut numbers, mut escapes) = (0, 0, 0, 0);
    for (path, bytes) in song_files {
        let text = std::str::from_utf8(bytes).unwrap();
        assert!(text.is_ascii() && !text.ends_with('\n'));
        let parts: Vec<&str> = path.split(std::path::MAIN_SEPARATOR).collect();
        let track = parts[4].strip_suffix(".json").unwrap();
        assert_eq!(track.len(), 18);
        assert_eq!(
            &track[2..5],
            format!("{}{}{}", parts[1], parts[2], parts[3])
        );
        let objects: Vec<Value> = serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .map(|r| r.unwrap())
            .collect();
        doubled += usize::from(objects.len() == 2);
        pretty += usize::from(text.starts_with("{\n    \"artist_id\": "));
        escapes += usize::from(text.contains("\\u"));
        let first_object = text.split('\n').next().unwrap();
        if !text.starts_with("{\n") {
            assert_eq!(keys_in_order(first_object), SONG_KEYS);
        }
        let o = &objects[0];
        numbers += usize::from(o["artist_name"].is_number() || o["artist_location"].is_number());
        assert_eq!(o["num_songs"], 1);
        assert!(o["song_id"].as_str().unwrap().starts_with("SO"));
        assert!(o["artist_id"].as_str().unwrap().starts_with("AR"));
        let duration = o["duration"].as_f64().unwrap();
        assert!((10.0..1400.0).contains(&duration));
    }
    assert!(pretty > 0 && doubled > 0 && numbers > 0 && escapes > 0);
    assert!(pretty_keys_sorted(&files));
}

fn pretty_keys_sorted(files: &BTreeMap<String, Vec<u8>>) -> bool {
    let text = files
        .values()
        .map(|v| std::str::from_utf8(v).unwrap())
        .find(|t| t.starts_with("{\n"))
        .unwrap();
    let first = text.split("\n}").next().unwrap().to_string() + "\n}";
    keys_in_order(&first) == SONG_KEYS
}

#[test]
fn zero_counts() {
    let dir = TempDir::new("zero");
    let s = generate(&opts(&dir.0, 0, 2_000, 1)).unwrap();
    assert_eq!((s.song_files, s.matched_events, s.events), (0, 0, 2_000));
    assert!(dir.0.join("song_data").is_dir());
    let s = generate(&opts(&dir.0, 100, 0, 1)).unwrap();
    assert_eq!((s.song_files, s.log_files, s.events), (100, 0, 0));
    let log_data: Vec<_> = fs::read_dir(dir.0.join("log_data")).unwrap().collect();
    assert_eq!(log_data.len(), 1, "the marker only");
    assert!(dir.0.join("log_data").join(MARKER).is_file());
    let err = generate(&opts(&dir.0, 0, 0, 1)).unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
}

#[test]
fn invalid_options() {
    let dir = TempDir::new("invalid");
    let base = opts(&dir.0, 10, 10, 1);
    let bad = [
        GenerateOptions {
            match_rate: 1.5,
            ..base.clone()
        },
        GenerateOptions {
            match_rate: f64::NAN,
            ..base.clone()
        },
        GenerateOptions {
            days: 0,
            ..base.clone()
        },
        GenerateOptions {
            output: PathBuf::new(),
            ..base.clone()
        },
    ];
    for o in bad {
        assert!(matches!(generate(&o), Err(Error::Invalid(_))), "{o:?}");
    }
}

#[test]
fn few_events_many_days() {
    let dir = TempDir::new("sparse");
    let mut o = opts(&dir.0, 10, 7, 9);
    o.days = 40;
    let s = generate(&o).unwrap();
    let files = tree(&dir.0);
    let logs: Vec<_> = files
        .iter()
        .filter(|(k, _)| k.starts_with("log_data"))
        .collect();
    assert_eq!(logs.len() as u64, s.log_files);
    assert!(logs.iter().all(|(_, v)| !v.is_empty()));
    assert_eq!(log_lines(&files).len(), 7);
    assert_eq!(s.events, 7);
}

#[test]
fn number_formats() {
    let fmt = |u: i64| {
        let mut v = Vec::new();
        push_fixed5(&mut v, u);
        String::from_utf8(v).unwrap()
    };
    assert_eq!(fmt(21_394_240), "213.9424");
    assert_eq!(fmt(20_000_000), "200.0");
    assert_eq!(fmt(-50_000), "-0.5");
    assert_eq!(fmt(24_630_812), "246.30812");
    assert_eq!(fmt(100_001), "1.00001");
    let mut v = Vec::new();
    push_json_str(&mut v, "Caf\u{e9} \"a/b\" \u{1F600}");
    assert_eq!(
        String::from_utf8(v).unwrap(),
        r#""Caf\u00e9 \"a\/b\" \ud83d\ude00""#
    );
    let mut v = Vec::new();
    push_json_str(&mut v, &double_mojibake("Caf\u{e9}"));
    assert_eq!(
        String::from_utf8(v).unwrap(),
        r#""Caf\u00c3\u0083\u00c2\u00a9""#
    );
}
