//! Part 1: many small objects, every GET delayed.

use std::time::{Duration, Instant};

use sparkify::source::local::LocalSource;
use sparkify::source::Source;

use crate::measure::{fetch_all, measure, ms, Stat};
use crate::s3::TestS3;
use crate::setup::{
    connect, generate_into, paginate, raw_gets, run_transform, stages, time_list, walk,
    with_latency,
};
use crate::{Config, PROBE_GETS};

pub(crate) fn latency_part(cfg: &Config, server: &TestS3) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("gen");
    generate_into(&root, cfg.songs, 30_000, 3);
    server.create_bucket("latency");
    for (rel, path) in walk(&root) {
        let bytes = std::fs::read(&path).expect("read generated file");
        server.put("latency", &format!("raw/{rel}"), &bytes);
    }
    let url = "s3://latency/raw";
    let lat = cfg.latency.as_secs_f64();

    println!();
    println!(
        "## 1. Latency-bound ingestion of song_data ({} ms per GET, list pages included)",
        ms(lat)
    );
    println!();
    println!("Times in ms, median of {} [best].", cfg.reps);

    // Listing.
    println!();
    println!("| listing song_data | requests | keys | ms |");
    println!("|---|---:|---:|---:|");
    for (name, latency) in [
        (format!("{} ms per GET", ms(lat)), cfg.latency),
        ("no latency".to_string(), Duration::ZERO),
    ] {
        with_latency(server, latency);
        let source = connect(server, url, 64);
        let (stat, requests, files) = time_list(server, &source, "song_data", cfg.reps);
        println!(
            "| S3Source::list, {name} | {requests} | {files} | {} |",
            stat.ms()
        );
        let mut requests = 0;
        let (stat, _, files) = measure(cfg.reps, || {
            let before = server.requests();
            let started = Instant::now();
            let keys = paginate(&source, "latency", "song_data");
            let secs = started.elapsed().as_secs_f64();
            requests = server.requests() - before;
            (secs, keys)
        });
        println!(
            "| plain SDK pagination, {name} | {requests} | {files} | {} |",
            stat.ms()
        );
    }

    // Fetching.
    println!();
    println!(
        "| concurrency | files | list | fetch | list+fetch | ideal | ratio list+fetch | ratio fetch | files/s | CPU ms client / server / other |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    with_latency(server, cfg.latency);
    for &conc in &cfg.concurrency {
        let source = connect(server, url, conc);
        let (mut lists, mut fetches) = (Vec::new(), Vec::new());
        let (both, cpu, files) = measure(cfg.reps, || {
            let started = Instant::now();
            let listed = source.list("song_data").expect("list song_data");
            lists.push(started.elapsed().as_secs_f64());
            let d = fetch_all(&source, &listed);
            fetches.push(d.total);
            (started.elapsed().as_secs_f64(), listed.len())
        });
        // Drop the warm-up run.
        let (list, fetch) = (Stat::of(lists.split_off(1)), Stat::of(fetches.split_off(1)));
        let ideal = files as f64 * lat / conc as f64;
        println!(
            "| {conc} | {files} | {} | {} | {} | {} | {:.2}× | {:.2}× | {:.0} | {} |",
            list.ms(),
            fetch.ms(),
            both.ms(),
            ms(ideal),
            both.median / ideal,
            fetch.median / ideal,
            files as f64 / fetch.median,
            cpu.per_run(cfg.reps),
        );
    }

    // The SDK alone at concurrency 64: in order (as `fetch`) and as the GETs complete.
    let source = connect(server, url, 64);
    let files = source.list("song_data").expect("list song_data");
    let ideal = files.len() as f64 * lat / 64.0;
    for (name, ordered) in [("ordered", true), ("unordered", false)] {
        let (stat, cpu, _) = measure(cfg.reps, || {
            let started = Instant::now();
            let bytes = raw_gets(&source, &files, 64, ordered);
            (started.elapsed().as_secs_f64(), bytes)
        });
        println!(
            "| 64, raw SDK GETs {name} | {} | – | {} | – | {} | – | {:.2}× | {:.0} | {} |",
            files.len(),
            stat.ms(),
            ms(ideal),
            stat.median / ideal,
            files.len() as f64 / stat.median,
            cpu.per_run(cfg.reps),
        );
    }

    // The same fetch without latency: the fixed cost of a request.
    server.clear_faults();
    let source = connect(server, url, 64);
    let files = source.list("song_data").expect("list song_data");
    let (zero, cpu, _) = measure(cfg.reps, || {
        let d = fetch_all(&source, &files);
        (d.total, d.bytes)
    });
    println!(
        "| 64, no latency | {} | – | {} | – | – | – | – | {:.0} | {} |",
        files.len(),
        zero.ms(),
        files.len() as f64 / zero.median,
        cpu.per_run(cfg.reps),
    );

    // One GET at a time, no latency: the gaps between arrivals are the request latencies.
    let source = connect(server, url, 1);
    let probe = &files[..files.len().min(PROBE_GETS)];
    let (_, _, d) = measure(1, || {
        let d = fetch_all(&source, probe);
        (d.total, d)
    });
    let mut gaps: Vec<f64> = std::iter::once(d.arrivals[0])
        .chain(d.arrivals.windows(2).map(|w| w[1] - w[0]))
        .collect();
    gaps.sort_by(f64::total_cmp);
    let slow = gaps.iter().filter(|&&g| g >= 0.030).count();
    println!(
        "\none GET at a time, no latency, {} small files: median {:.1} ms, p90 {:.1} ms, max {:.1} ms; \
         {slow} of {} took ≥ 30 ms",
        gaps.len(),
        gaps[gaps.len() / 2] * 1e3,
        gaps[gaps.len() * 9 / 10] * 1e3,
        gaps[gaps.len() - 1] * 1e3,
        gaps.len(),
    );

    // The full transform at concurrency 64, with latency, and from the local folder.
    with_latency(server, cfg.latency);
    let source = connect(server, url, 64);
    let (s3_run, _, summary) = measure(cfg.reps, || run_transform(&source));
    server.clear_faults();
    let local = LocalSource::open(&root).expect("open generated folder");
    let (local_run, _, _) = measure(cfg.reps, || run_transform(&local));
    println!();
    println!(
        "full transform ({} song + {} log files, {:.1} MB) → local folder:",
        summary.song_files,
        summary.log_files,
        summary.input_bytes as f64 / 1e6
    );
    println!(
        "  S3, concurrency 64, {} ms per GET: {} ms (ideal song fetch alone {} ms); stages of the \
         last run: {}",
        ms(lat),
        s3_run.ms(),
        ms(summary.song_files as f64 * lat / 64.0),
        stages(&summary)
    );
    println!("  local folder: {} ms", local_run.ms());
}
