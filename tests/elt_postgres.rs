//! `etl --mode elt` on a throwaway PostgreSQL: sparkify stages the raw JSON, the ELT SQL builds the
//! star schema, and every row of every table must equal what the Rust transform writes — two
//! independent implementations of the rules checking each other, on the real data.

mod common;

use std::path::Path;

use common::pg::TestPg;
use common::rows::{batch_rows, fetch, Rows};
use common::{copy_sample, large, load_json, read_table, sample, sparkify, sparkify_ok};
use sparkify::schema::TABLES;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every table of database `db`, as sorted rows.
fn warehouse(pg: &TestPg, db: &str) -> Vec<(String, Rows)> {
    rt().block_on(async {
        let client = pg.connect_to(db).await;
        let mut out = Vec::new();
        for t in TABLES {
            out.push((t.name.to_string(), fetch(&client, t.name, t).await));
        }
        out
    })
}

/// What the Rust transform makes of `input` (Parquet, read back as sorted rows).
fn transform(cwd: &Path, input: &Path, extra: &[&str]) -> Vec<(String, Rows)> {
    let out = cwd.join("transformed");
    let mut args = vec![
        "transform",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    sparkify_ok(cwd, &args);
    TABLES
        .iter()
        .map(|t| (t.name.to_string(), batch_rows(&read_table(&out, t.name), t)))
        .collect()
}

fn elt(cwd: &Path, input: &Path, url: &str, write: &str, extra: &[&str]) -> serde_json::Value {
    load_json(
        cwd,
        input,
        url,
        write,
        &[&["--mode", "elt"], extra].concat(),
    )
}

/// Asserts equal tables, naming the first differing row of each table that differs.
fn assert_same(elt: &[(String, Rows)], rust: &[(String, Rows)]) {
    let mut diffs = Vec::new();
    for ((name, a), (_, b)) in elt.iter().zip(rust) {
        if a != b {
            let first = a.iter().zip(b).find(|(x, y)| x != y);
            diffs.push(format!(
                "{name}: {} rows by ELT, {} by the transform; first difference: {first:?}",
                a.len(),
                b.len()
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

fn new_database(pg: &TestPg, cwd: &Path, name: &str) -> String {
    let url = pg.url_for(&rt().block_on(pg.create_database(name)));
    sparkify_ok(cwd, &["create-tables", "--target", &url]);
    url
}

#[test]
fn elt_equals_the_transform_on_the_sample_and_reruns_change_nothing() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let url = new_database(&pg, tmp.path(), "sample");

    let s = elt(tmp.path(), &sample(), &url, "replace", &[]);
    assert_eq!(s["matched_songplays"], 1);
    assert_eq!(s["rejected"], 0);
    assert_eq!(s["event_lines"], 8056);
    assert_eq!(s["other_events"], 1236);
    let rows: Vec<u64> = s["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, vec![6820, 97, 71, 69, 6813], "{s}");

    let built = warehouse(&pg, "sample");
    assert_same(&built, &transform(tmp.path(), &sample(), &[]));
    let counts: Vec<usize> = built.iter().map(|(_, r)| r.len()).collect();
    assert_eq!(counts, vec![97, 71, 69, 6813, 6820]);

    elt(tmp.path(), &sample(), &url, "replace", &[]);
    assert_eq!(warehouse(&pg, "sample"), built, "a rerun with replace");
    elt(tmp.path(), &sample(), &url, "merge", &[]);
    assert_eq!(warehouse(&pg, "sample"), built, "a rerun with merge");
}

#[test]
fn elt_equals_the_transform_on_the_large_set_and_generated_data() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    {
        let input = large();
        let url = new_database(&pg, tmp.path(), "large");
        let s = elt(tmp.path(), &input, &url, "replace", &[]);
        assert_eq!(s["matched_songplays"], 39);
        assert_same(
            &warehouse(&pg, "large"),
            &transform(tmp.path(), &input, &[]),
        );
    }
    // Synthetic data has what the real data lacks: many matches, duplicate song records, artists
    // with conflicting attributes, numbers as text.
    let generated = tmp.path().join("generated");
    sparkify_ok(
        tmp.path(),
        &[
            "generate",
            "--output",
            generated.to_str().unwrap(),
            "--songs",
            "400",
            "--events",
            "6000",
            "--seed",
            "11",
            "--days",
            "5",
        ],
    );
    let url = new_database(&pg, tmp.path(), "generated");
    let s = elt(tmp.path(), &generated, &url, "replace", &[]);
    assert!(s["matched_songplays"].as_u64().unwrap() > 100, "{s}");
    assert_same(
        &warehouse(&pg, "generated"),
        &transform(tmp.path(), &generated, &[]),
    );
}

#[test]
fn elt_incremental_days_converge_on_the_full_load() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    copy_sample(&tmp.path().join("early"), |d| d <= 15);
    copy_sample(&tmp.path().join("late"), |d| d > 15);
    let full = new_database(&pg, tmp.path(), "whole");
    let incremental = new_database(&pg, tmp.path(), "incremental");
    elt(tmp.path(), &sample(), &full, "replace", &[]);
    // Later days first: a user's level must still end at their newest event.
    elt(
        tmp.path(),
        &tmp.path().join("late"),
        &incremental,
        "merge",
        &[],
    );
    elt(
        tmp.path(),
        &tmp.path().join("early"),
        &incremental,
        "merge",
        &[],
    );
    assert_eq!(warehouse(&pg, "incremental"), warehouse(&pg, "whole"));
}

#[test]
fn elt_rejects_like_the_transform_and_too_many_change_nothing() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    copy_sample(&input, |_| true);
    let log = input.join("log_data/2018/11/2018-11-05-events.json");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("\n{\"ts\": not json\n");
    text.push_str(
        r#"{"ts":1541400000000,"page":"NextSong","sessionId":1,"itemInSession":0,"userId":""}"#,
    );
    std::fs::write(&log, text).unwrap();

    let url = new_database(&pg, tmp.path(), "rejects");
    elt(tmp.path(), &sample(), &url, "replace", &[]);
    let before = warehouse(&pg, "rejects");

    let out = sparkify(
        tmp.path(),
        &[
            "etl",
            "--mode",
            "elt",
            "--input",
            input.to_str().unwrap(),
            "--output",
            "w",
            "--target",
            &url,
            "--write",
            "replace",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 rejected records exceed --max-bad-records 0"),
        "{err}"
    );
    assert!(tmp.path().join("w/_rejects/part-00000.ndjson").is_file());
    assert_eq!(
        warehouse(&pg, "rejects"),
        before,
        "a failed run changes nothing"
    );

    let s = elt(
        tmp.path(),
        &input,
        &url,
        "replace",
        &["--max-bad-records", "2"],
    );
    assert_eq!(s["rejected"], 2);
    assert_eq!(s["rejected_events"], 2);
    assert_same(
        &warehouse(&pg, "rejects"),
        &transform(tmp.path(), &input, &["--max-bad-records", "2"]),
    );
}

#[test]
fn elt_dry_run_prints_the_sql_and_connects_to_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let url = "postgres://me:s3cret-pw@localhost:9/dwh";
    let out = sparkify_ok(
        tmp.path(),
        &["etl", "--mode", "elt", "--target", url, "--dry-run"],
    );
    assert!(out.contains("COPY staging_events ("), "{out}");
    assert!(out.contains("INSERT INTO stage_songplays"), "{out}");
    assert!(!out.contains("s3cret-pw"));

    std::fs::write(
        tmp.path().join("dwh.cfg"),
        "[CLUSTER]\nHOST='c.example.us-west-2.redshift.amazonaws.com'\nDB_NAME=dwh\nDB_USER=u\n\
         DB_PASSWORD='s3cret-pw'\n[IAM_ROLE]\nARN='arn:aws:iam::123456789012:role/dwhRole'\n\
         [S3]\nLOG_DATA='s3://udacity-dend/log_data'\nSONG_DATA='s3://udacity-dend/song_data'\n\
         LOG_JSONPATH='s3://udacity-dend/log_json_path.json'\nREGION='us-west-2'\nSTAGING='s3://my-bucket/sparkify'\n",
    )
    .unwrap();
    let out = sparkify_ok(
        tmp.path(),
        &["etl", "--mode", "elt", "--target", "redshift", "--dry-run"],
    );
    assert!(
        out.contains("FORMAT AS JSON 's3://udacity-dend/log_json_path.json'"),
        "{out}"
    );
    assert!(
        out.contains("STRTOL(LEFT(MD5(k.play_key), 15), 16)"),
        "{out}"
    );
    assert!(!out.contains("s3cret-pw"));

    let out = sparkify(tmp.path(), &["etl", "--mode", "elt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--mode elt builds the star schema in a warehouse"));
}

/// Writes a small input with the cases the real data lacks: several songs matching one play, one
/// song in two files, an artist whose smallest song_id is in a later file, trailing blanks,
/// tolerances, non-ASCII text, numbers as text, exact duplicate events, ties on ts, ISO-week and
/// weekday boundaries.
fn edge_input(dir: &Path) {
    use serde_json::json;
    let song = |path: &str, v: serde_json::Value| {
        let p = dir.join("song_data").join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v.to_string()).unwrap();
    };
    let s = |id: &str, title: &str, artist_id: &str, name: serde_json::Value, duration: f64| {
        json!({"num_songs": 1, "artist_id": artist_id, "artist_latitude": null,
               "artist_longitude": null, "artist_location": "", "artist_name": name,
               "song_id": id, "title": title, "duration": duration, "year": 0})
    };
    // Two songs match a play: the smaller id (SOA, in the later file) wins, with its artist.
    song(
        "A/A/A/TR1.json",
        s("SOB", "Twin", "AR2", json!("Dup"), 200.0),
    );
    song(
        "A/A/B/TR2.json",
        s("SOA", "Twin", "AR1", json!("Dup"), 200.000_000_5),
    );
    // AR3's smallest song (SOC) is in the later file: its name wins.
    song(
        "A/A/C/TR3.json",
        s("SOD", "Old", "AR3", json!("Old Name"), 10.0),
    );
    song(
        "A/A/D/TR4.json",
        s("SOC", "New", "AR3", json!("New Name"), 11.0),
    );
    // One song in two files.
    song("A/B/A/TR5.json", s("SOE", "Copy", "AR4", json!("C"), 12.0));
    song("A/B/B/TR6.json", s("SOE", "Copy", "AR4", json!("C"), 12.0));
    song(
        "A/B/C/TR7.json",
        s("SOF", "Blank ", "AR5", json!("X"), 100.0),
    );
    song("A/B/D/TR8.json", s("SOG", "Tol", "AR6", json!("T"), 300.0));
    song(
        "A/B/E/TR9.json",
        s("SOH", "Café ☕", "AR7", json!("Zoë"), 50.5),
    );
    song("A/B/F/TRA.json", s("SOI", "Num", "AR8", json!(112), 60.0));

    let ev = |ts: i64,
              user: &str,
              session: i32,
              item: i32,
              page: &str,
              level: &str,
              song: Option<&str>,
              artist: Option<&str>,
              length: Option<f64>| {
        json!({"artist": artist, "auth": "Logged In", "firstName": format!("F{user}"),
               "gender": "F", "itemInSession": item, "lastName": "L", "length": length,
               "level": level, "location": "Town, ST", "method": "PUT", "page": page,
               "registration": 1.5e12, "sessionId": session, "song": song, "status": 200,
               "ts": ts, "userAgent": "\"Mozilla/5.0\"", "userId": user})
        .to_string()
    };
    let play = |ts: i64, user: &str, item: i32, song: &str, artist: &str, length: f64| {
        ev(
            ts,
            user,
            10,
            item,
            "NextSong",
            "free",
            Some(song),
            Some(artist),
            Some(length),
        )
    };
    let t = 1_541_100_000_000i64; // 2018-11-01
    let lines = [
        play(t, "7", 0, "Twin", "Dup", 200.000_000_2),
        play(t + 1, "7", 1, "Old", "Old Name", 10.0),
        play(t + 2, "7", 2, "Blank", "X", 100.0),
        play(t + 3, "7", 3, "Blank ", "X", 100.0),
        play(t + 4, "7", 4, "Tol", "T", 300.000_000_9),
        play(t + 5, "7", 5, "Tol", "T", 300.000_002),
        play(t + 6, "7", 6, "Café ☕", "Zoë", 50.5),
        play(t + 7, "7", 7, "Num", "112", 60.0),
        play(t + 8, "8", 0, "Copy", "C", 12.0),
        play(t + 8, "8", 0, "Copy", "C", 12.0), // exact duplicate
        play(t + 8, "9", 0, "Copy", "C", 12.0), // same ts, other user
        // User 7's latest event: equal ts, the higher itemInSession wins.
        ev(t + 9_000, "7", 10, 9, "Home", "free", None, None, None),
        ev(t + 9_000, "7", 10, 11, "Home", "paid", None, None, None),
        ev(t + 8_000, "7", 10, 20, "Home", "free", None, None, None),
        // A logged-out event and a play without a user (rejected by both).
        ev(t + 10_000, "", 11, 0, "Home", "free", None, None, None),
        ev(
            t + 10_001,
            "",
            11,
            1,
            "NextSong",
            "free",
            Some("Tol"),
            Some("T"),
            Some(300.0),
        ),
        // Calendar edges: 2020-12-31 23:59:59.999 (ISO week 53, Thursday), 2021-01-01 (week 53 of
        // 2020, Friday), 2019-12-30 (week 1 of 2020, Monday), 2018-12-30 (week 52, Sunday).
        play(1_609_459_199_999, "9", 1, "x", "y", 1.0),
        play(1_609_459_200_000, "9", 2, "x", "y", 1.0),
        play(1_577_664_000_123, "9", 3, "x", "y", 1.0),
        play(1_546_128_000_456, "9", 4, "x", "y", 1.0),
    ];
    let logs = dir.join("log_data/2018/11");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("2018-11-01-events.json"), lines.join("\n")).unwrap();
}

#[test]
fn elt_follows_the_transform_on_edge_cases() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("edge");
    edge_input(&input);
    let url = new_database(&pg, tmp.path(), "edge");
    let s = elt(
        tmp.path(),
        &input,
        &url,
        "replace",
        &["--max-bad-records", "1"],
    );
    assert_eq!(s["rejected"], 1, "{s}");
    assert_eq!(s["duplicate_events"], 1, "{s}");
    let built = warehouse(&pg, "edge");
    assert_same(
        &built,
        &transform(tmp.path(), &input, &["--max-bad-records", "1"]),
    );
    // The cases really were exercised.
    let songplays = &built[4].1;
    let song_ids: Vec<String> = songplays
        .iter()
        .filter_map(|r| match &r[4] {
            common::rows::V::S(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    for id in ["SOA", "SOD", "SOE", "SOF", "SOG", "SOH", "SOI"] {
        assert!(
            song_ids.iter().any(|s| s == id),
            "{id} not matched: {song_ids:?}"
        );
    }
    assert!(!song_ids.iter().any(|s| s == "SOB"));
    assert_eq!(song_ids.iter().filter(|s| *s == "SOG").count(), 1);
    let ar3 = built[2]
        .1
        .iter()
        .find(|r| r[0] == common::rows::s("AR3"))
        .unwrap();
    assert_eq!(ar3[1], common::rows::s("New Name"), "AR3 takes SOC's name");
    let user7 = built[0]
        .1
        .iter()
        .find(|r| r[0] == common::rows::V::I32(7))
        .unwrap();
    assert_eq!(user7[4], common::rows::s("paid"), "user 7's latest level");
}

#[test]
fn elt_stages_s3_input_on_postgres() {
    use common::s3::{TestS3, ACCESS_KEY, REGION, SECRET_KEY};
    let Some(pg) = TestPg::start() else { return };
    let s3 = TestS3::start();
    s3.create_bucket("raw");
    for dir in ["song_data", "log_data"] {
        let root = sample().join(dir);
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(sample()).unwrap().to_str().unwrap();
                    s3.put("raw", &format!("in/{rel}"), &std::fs::read(&p).unwrap());
                }
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let url = new_database(&pg, tmp.path(), "froms3");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sparkify"))
        .args([
            "etl",
            "--mode",
            "elt",
            "--input",
            "s3://raw/in",
            "--target",
            &url,
            "--write",
            "replace",
            "--json",
        ])
        .current_dir(tmp.path())
        .env("AWS_ENDPOINT_URL", &s3.endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", REGION)
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", tmp.path().join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            tmp.path().join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["song_files"], 71);
    assert_eq!(s["log_files"], 30);
    assert_same(
        &warehouse(&pg, "froms3"),
        &transform(tmp.path(), &sample(), &[]),
    );
}
