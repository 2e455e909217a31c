//! Part 2: a few large log objects, no added latency.

use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use sparkify::source::local::LocalSource;
use sparkify::source::Source;

use crate::measure::{fetch_all, measure};
use crate::s3::TestS3;
use crate::setup::{connect, generate_into, paginate, run_transform, stages, time_list, walk};
use crate::Config;

pub(crate) fn throughput_part(cfg: &Config, server: &TestS3) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("gen");
    generate_into(&root, 5_000, cfg.log_events, cfg.log_days);
    server.clear_faults();
    server.create_bucket("throughput");
    let url = "s3://throughput/raw";
    let source = connect(server, url, 64);
    // Logs go up with PutObject so that the server keeps their ETag and, like S3, does not hash the
    // whole object on every GET (s3s-fs does for objects written straight into its folder). Songs
    // are small: written straight into the folder.
    let started = Instant::now();
    let mut uploaded = 0u64;
    for (rel, path) in walk(&root) {
        let bytes = std::fs::read(&path).expect("read generated file");
        let key = format!("raw/{rel}");
        if rel.starts_with("log_data/") {
            uploaded += bytes.len() as u64;
            source
                .handle()
                .block_on(
                    source
                        .client()
                        .put_object()
                        .bucket("throughput")
                        .key(&key)
                        .body(ByteStream::from(bytes))
                        .send(),
                )
                .expect("upload log object");
        } else {
            server.put("throughput", &key, &bytes);
        }
    }
    eprintln!(
        "uploaded {:.1} MB of logs in {:.1} s",
        uploaded as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let local = LocalSource::open(&root).expect("open generated folder");
    let files = source.list("log_data").expect("list log_data");
    let sizes: Vec<String> = files
        .iter()
        .map(|f| format!("{:.0}", f.size as f64 / 1e6))
        .collect();
    println!();
    println!(
        "## 2. Throughput without latency: {} log objects of {} MB",
        files.len(),
        sizes.join(" / "),
    );
    println!();
    println!("Times in ms, median of {} [best].", cfg.reps);
    println!();
    println!("| measurement | source | MB | ms | MB/s | CPU ms client / server / other |");
    println!("|---|---|---:|---:|---:|---:|");
    let fetch_row = |name: &str, src: &dyn Source| {
        let files = src.list("log_data").expect("list log_data");
        let (stat, cpu, bytes) = measure(cfg.reps, || {
            let d = fetch_all(src, &files);
            (d.total, d.bytes)
        });
        let mb = bytes as f64 / 1e6;
        println!(
            "| fetch log_data | {name} | {mb:.1} | {} | {:.0} [{:.0}] | {} |",
            stat.ms(),
            mb / stat.median,
            mb / stat.best,
            cpu.per_run(cfg.reps),
        );
        stat
    };
    let s3_fetch = fetch_row("S3, concurrency 64", &source);
    let local_fetch = fetch_row("local folder", &local);

    let (s3_run, s3_cpu, s3_summary) = measure(cfg.reps, || run_transform(&source));
    let (local_run, local_cpu, local_summary) = measure(cfg.reps, || run_transform(&local));
    assert_eq!(
        s3_summary.tables, local_summary.tables,
        "S3 and local transforms disagree"
    );
    let mb = s3_summary.input_bytes as f64 / 1e6;
    for (name, stat, cpu) in [
        ("S3, concurrency 64", s3_run, s3_cpu),
        ("local folder", local_run, local_cpu),
    ] {
        println!(
            "| full transform → local folder | {name} | {mb:.1} | {} | {:.0} [{:.0}] | {} |",
            stat.ms(),
            mb / stat.median,
            mb / stat.best,
            cpu.per_run(cfg.reps),
        );
    }
    let (list_songs, song_list_requests, songs) = time_list(server, &source, "song_data", cfg.reps);
    let mut pages = 0;
    let (paginated, _, _) = measure(cfg.reps, || {
        let before = server.requests();
        let started = Instant::now();
        let keys = paginate(&source, "throughput", "song_data");
        let secs = started.elapsed().as_secs_f64();
        pages = server.requests() - before;
        (secs, keys)
    });
    println!();
    println!(
        "fetch S3 / local: {:.2}×; transform S3 / local: {:.2}× (best runs {:.2}×)",
        s3_fetch.median / local_fetch.median,
        s3_run.median / local_run.median,
        s3_run.best / local_run.best
    );
    println!("stages, S3:    {}", stages(&s3_summary));
    println!("stages, local: {}", stages(&local_summary));
    println!(
        "listing song_data ({songs} keys) alone: S3Source::list {song_list_requests} requests, {} ms; \
         plain SDK pagination {pages} requests, {} ms",
        list_songs.ms(),
        paginated.ms()
    );
}
