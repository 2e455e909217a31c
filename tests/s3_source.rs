//! `S3Source` against the in-process S3 server: listing, ordered fetching, faults, error messages.

mod common;

use std::io::Write;
use std::sync::mpsc::sync_channel;
use std::time::Duration;

use common::s3::{FaultStatus, Faults, TestS3, REGION};
use sparkify::s3::{S3Location, S3Settings, StaticCredentials};
use sparkify::source::s3::S3Source;
use sparkify::source::{Error, Fetched, InputFile, Source};

/// Settings that point at `endpoint` with the test keys and short back-offs.
fn settings_for(endpoint: &str, secret: &str) -> S3Settings {
    S3Settings {
        region: Some(REGION.to_string()),
        endpoint_url: Some(endpoint.to_string()),
        credentials: Some(StaticCredentials::new(common::s3::ACCESS_KEY, secret)),
        force_path_style: Some(true),
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(2),
        ..S3Settings::default()
    }
}

fn source(s3: &TestS3, url: &str) -> S3Source {
    S3Source::connect(
        &settings_for(&s3.endpoint, &s3.secret_key),
        S3Location::parse(url).unwrap(),
    )
    .unwrap()
}

/// Fetches everything through a small channel, checking that results arrive in listing order.
fn fetch_all(src: &S3Source, files: &[InputFile], channel: usize) -> Result<Vec<Fetched>, Error> {
    let (tx, rx) = sync_channel(channel);
    std::thread::scope(|scope| {
        scope.spawn(move || src.fetch(files, tx));
        let mut out = Vec::new();
        for item in rx {
            let f = item?;
            assert_eq!(f.index, out.len(), "out of order");
            assert_eq!(f.name, files[f.index].name);
            out.push(f);
        }
        Ok(out)
    })
}

/// Content of the i-th test object: varied sizes, recognisable bytes.
fn body(i: usize) -> Vec<u8> {
    let line = format!("{{\"song_id\":\"S{i:05}\",\"n\":{i}}}\n");
    line.repeat(1 + (i * 37) % 200).into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn list_paginates_and_fans_out_over_more_than_1000_keys() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    let mut expected = Vec::new();
    // 2,600 log files over three sub-prefixes, song files three levels deep, and noise.
    for (month, n) in [("10", 300), ("11", 1200), ("12", 1100)] {
        for d in 0..n {
            let name = format!("log_data/2018/{month}/{d:05}-events.json");
            s3.put("input", &format!("sparkify/raw/{name}"), b"{}\n");
            expected.push(name);
        }
    }
    s3.put(
        "input",
        "sparkify/raw/log_data/2018/11/readme.txt",
        b"not input",
    );
    s3.put(
        "input",
        "sparkify/raw/log_data/2018/11/00001.json.gz",
        &gzip(b"{}\n"),
    );
    expected.push("log_data/2018/11/00001.json.gz".to_string());
    s3.put("input", "sparkify/raw/log_data_other/x.json", b"{}"); // not under log_data/
    s3.put("input", "sparkify/other/log_data/y.json", b"{}"); // not under the prefix
    expected.sort();

    // By default 3 pages are paginated (fan-out starts past 5 pages); fanning out after the first
    // page must give the same listing: 1 probe page + delimiter discovery + the sub-prefixes.
    let src = source(&s3, "s3://input/sparkify/raw/");
    for (fanout_after, requests_at_least, requests_at_most) in [(5, 3, 3), (1, 4, 1000)] {
        let src = source(&s3, "s3://input/sparkify/raw/").with_fanout_after_pages(fanout_after);
        let before = s3.requests();
        let files = src.list("log_data").unwrap();
        let names: Vec<_> = files.iter().map(|f| f.name.clone()).collect();
        assert_eq!(names.len(), expected.len());
        assert_eq!(names, expected, "sorted, filtered, relative to the prefix");
        assert!(files.iter().all(|f| f.size > 0));
        let requests = s3.requests() - before;
        assert!(
            (requests_at_least..=requests_at_most).contains(&requests),
            "fan-out after {fanout_after} pages: {requests} list requests"
        );
    }

    // A flat folder of 1,500 keys: plain pagination within one prefix.
    for i in 0..1500 {
        s3.put("input", &format!("flat/song_data/{i:05}.json"), b"{}");
    }
    let flat = source(&s3, "s3://input/flat").list("song_data").unwrap();
    assert_eq!(flat.len(), 1500);
    assert_eq!(flat[0].name, "song_data/00000.json");
    assert_eq!(flat[1499].name, "song_data/01499.json");

    // A missing folder is an empty list.
    assert!(src.list("song_data").unwrap().is_empty());
    assert_eq!(src.describe(), "s3://input/sparkify/raw");
}

#[test]
fn fetch_keeps_listing_order_and_bytes_and_decodes_gzip() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    for i in 0..300 {
        s3.put("input", &format!("p/song_data/A/{i:04}.json"), &body(i));
    }
    s3.put("input", "p/song_data/B/zz.json.gz", &gzip(&body(7777)));
    // The first object completes only after the second: completion order is not listing order.
    s3.hold_until(
        http::Method::GET,
        "input",
        "p/song_data/A/0000.json",
        "p/song_data/A/0001.json",
    );
    let src = source(&s3, "s3://input/p").with_concurrency(32);
    let files = src.list("song_data").unwrap();
    assert_eq!(files.len(), 301);
    let fetched = fetch_all(&src, &files, 4).unwrap();
    assert_eq!(fetched.len(), 301);
    for (i, f) in fetched.iter().take(300).enumerate() {
        assert_eq!(f.bytes, body(i), "{}", f.name);
    }
    assert_eq!(fetched[300].bytes, body(7777), "gzip decoded");
}

#[test]
fn fetch_survives_30_percent_500_and_503() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    for i in 0..200 {
        s3.put("input", &format!("log_data/{i:04}.json"), &body(i));
    }
    s3.set_faults(Faults {
        error_rate: 0.3,
        max_consecutive: Some(3), // transient: the SDK's 5 attempts always get through
        status: FaultStatus::Mixed,
        ..Faults::default()
    });
    let src = source(&s3, "s3://input").with_concurrency(16);
    let files = src.list("log_data").unwrap();
    assert_eq!(files.len(), 200);
    let fetched = fetch_all(&src, &files, 8).unwrap();
    assert_eq!(fetched.len(), 200);
    for (i, f) in fetched.iter().enumerate() {
        assert_eq!(f.bytes, body(i));
    }
    let injected = s3.injected();
    assert!(injected > 30, "only {injected} faults injected");
    eprintln!("{injected} injected errors over {} requests", s3.requests());
}

#[test]
fn fetch_retries_bodies_cut_off_mid_way() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    for i in 0..100 {
        s3.put("input", &format!("log_data/{i:04}.json"), &body(i + 50));
    }
    s3.set_faults(Faults {
        truncate_rate: 0.3,
        max_consecutive: Some(2),
        ..Faults::default()
    });
    let src = source(&s3, "s3://input").with_concurrency(8);
    let files = src.list("log_data").unwrap();
    let fetched = fetch_all(&src, &files, 4).unwrap();
    for (i, f) in fetched.iter().enumerate() {
        assert_eq!(f.bytes, body(i + 50));
    }
    let cut = s3.truncated();
    assert!(cut > 5, "only {cut} bodies cut");
    eprintln!("{cut} bodies cut off and fetched again");
}

#[test]
fn listing_retries_responses_cut_off_mid_way() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    for i in 0..2500 {
        s3.put("input", &format!("song_data/A/{i:05}.json"), b"{}");
    }
    s3.set_faults(Faults {
        truncate_rate: 0.5,
        truncate_lists: true,
        max_consecutive: Some(2),
        ..Faults::default()
    });
    let files = source(&s3, "s3://input").list("song_data").unwrap();
    assert_eq!(files.len(), 2500);
    assert_eq!(files[2499].name, "song_data/A/02499.json");
    let cut = s3.truncated();
    assert!(cut >= 1, "no listing response was cut");
    eprintln!("{cut} listing responses cut off and requested again");
}

#[test]
fn always_failing_server_gives_a_clear_error_naming_bucket_and_key() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    s3.put("input", "in/log_data/a.json", b"{}");
    let src = source(&s3, "s3://input/in");
    let files = src.list("log_data").unwrap();
    s3.set_faults(Faults {
        always_fail: true,
        status: FaultStatus::SlowDown,
        ..Faults::default()
    });
    let err = fetch_all(&src, &files, 2).unwrap_err();
    let text = err.to_string();
    eprintln!("{text}");
    assert!(matches!(&err, Error::S3(e) if e.op == "get"), "{err:?}");
    assert!(text.contains("s3://input/in/log_data/a.json"), "{text}");
    assert!(text.contains("SlowDown") && text.contains("503"), "{text}");
    let cause = std::error::Error::source(&err).expect("the SDK's error is kept as the source");
    assert!(cause.to_string().contains("service error"), "{cause}");
    // Retried (the standard mode's 5 attempts per request), and not more.
    assert!(
        (2..=5).contains(&s3.injected()),
        "{} attempts",
        s3.injected()
    );

    let err = src.list("log_data").unwrap_err().to_string();
    eprintln!("{err}");
    assert!(err.starts_with("S3 list s3://input/in/log_data/"), "{err}");
}

#[test]
fn missing_bucket_is_a_clear_error() {
    let s3 = TestS3::start();
    let err = source(&s3, "s3://no-such-bucket/x")
        .list("log_data")
        .unwrap_err();
    let text = err.to_string();
    eprintln!("{text}");
    assert!(text.contains("s3://no-such-bucket/x/log_data/"), "{text}");
    assert!(
        text.contains("NoSuchBucket") && text.contains("does not exist"),
        "{text}"
    );
}

#[test]
fn missing_object_is_a_clear_error() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    let src = source(&s3, "s3://input");
    let files = vec![InputFile {
        name: "log_data/gone.json".into(),
        size: 1,
    }];
    let err = fetch_all(&src, &files, 1).unwrap_err();
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        matches!(&err, Error::NotFound { path, .. } if path == "s3://input/log_data/gone.json")
    );
    assert!(text.contains("does not exist"), "{text}");
}

#[test]
fn wrong_secret_key_is_a_clear_error_without_the_secret() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    let wrong = "WRONG-secret-value-do-not-print";
    let src = S3Source::connect(
        &settings_for(&s3.endpoint, wrong),
        S3Location::parse("s3://input/p").unwrap(),
    )
    .unwrap();
    let err = src.list("log_data").unwrap_err();
    let text = err.to_string();
    let debug = format!("{err:?}");
    eprintln!("{text}");
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    assert!(text.contains("secret access key"), "{text}");
    for secret in [wrong, common::s3::SECRET_KEY] {
        assert!(!text.contains(secret) && !debug.contains(secret), "{text}");
    }
}

#[test]
fn unknown_access_key_is_a_clear_error() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    let mut settings = settings_for(&s3.endpoint, &s3.secret_key);
    settings.credentials = Some(StaticCredentials::new("AKIAUNKNOWN", "whatever"));
    let src = S3Source::connect(&settings, S3Location::parse("s3://input").unwrap()).unwrap();
    let text = src.list("log_data").unwrap_err().to_string();
    eprintln!("{text}");
    assert!(text.contains("access key id is not known"), "{text}");
    assert!(!text.contains("whatever"), "{text}");
}

#[test]
fn connection_refused_is_a_clear_error() {
    let endpoint = TestS3::refused_endpoint();
    let src = S3Source::connect(
        &settings_for(&endpoint, "x"),
        S3Location::parse("s3://input/p").unwrap(),
    )
    .unwrap();
    let text = src.list("log_data").unwrap_err().to_string();
    eprintln!("{text}");
    assert!(
        text.starts_with("S3 list s3://input/p/log_data/: cannot reach the S3 endpoint"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

#[test]
fn fetch_applies_back_pressure_and_stops_when_the_receiver_hangs_up() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    for i in 0..400 {
        s3.put("input", &format!("log_data/{i:04}.json"), &body(i));
    }
    let src = source(&s3, "s3://input").with_concurrency(8);
    let files = src.list("log_data").unwrap();
    let before = s3.requests();
    let (tx, rx) = sync_channel(2);
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| src.fetch(&files, tx));
        for _ in 0..10 {
            rx.recv().unwrap().unwrap();
        }
        // The consumer stops here: whenever the server is asked, the fetch has not read ahead.
        // 10 received + 2 in the channel + 1 in the bridge + 1 being handed over + 8 in flight.
        let gets = s3.requests() - before;
        assert!(gets <= 10 + 2 + 2 + 8, "{gets} GETs for 10 consumed files");
        drop(rx);
        // Joined: the fetch task was aborted, and no further GET is started.
        worker.join().unwrap();
    });
    let gets = s3.requests() - before;
    assert!(gets < 40, "{gets} GETs after hanging up at 10 of 400");
}

#[test]
fn an_empty_fetch_returns_at_once() {
    let s3 = TestS3::start();
    let src = source(&s3, "s3://input");
    let (tx, rx) = sync_channel(1);
    src.fetch(&[], tx);
    assert!(rx.recv().is_err());
}

#[test]
fn a_slow_consumer_does_not_break_large_downloads_in_flight() {
    let s3 = TestS3::start();
    s3.create_bucket("input");
    let big = |i: usize| -> Vec<u8> {
        (0..6 * 1024 * 1024)
            .map(|j| ((j * 31 + i) % 251) as u8)
            .collect()
    };
    for i in 0..6 {
        s3.put("input", &format!("log_data/{i}.json"), &big(i));
    }
    let src = source(&s3, "s3://input").with_concurrency(3);
    let files = src.list("log_data").unwrap();
    let (tx, rx) = sync_channel(1);
    std::thread::scope(|scope| {
        scope.spawn(|| src.fetch(&files, tx));
        let first = rx.recv().unwrap().unwrap();
        assert_eq!(first.bytes, big(0));
        // Longer than the SDK's stalled-stream grace period (5 s): bodies in flight are not read.
        std::thread::sleep(Duration::from_secs(7));
        for (i, item) in rx.iter().enumerate() {
            let f = item.unwrap();
            assert_eq!(f.bytes, big(i + 1), "{}", f.name);
        }
    });
}
