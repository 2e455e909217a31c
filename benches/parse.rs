//! Parsing throughput: log lines and song files → typed records, on one thread.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sparkify::parse::event::parse_log;
use sparkify::parse::song::parse_song_file;
use sparkify::parse::JsonParser;

fn logs(c: &mut Criterion) {
    let (_tmp, generated) = common::generated();
    for (label, root) in [("sample", common::sample()), ("generated", generated)] {
        let files = common::read_all(&root, "log_data");
        let mut group = c.benchmark_group("parse_log");
        group.throughput(Throughput::Bytes(common::total_bytes(&files)));
        group.sample_size(10);
        group.bench_function(label, |b| {
            let mut parser = JsonParser::default();
            let mut rejects = Vec::new();
            b.iter(|| {
                let mut plays = 0u64;
                for (name, bytes) in &files {
                    parse_log(&mut parser, name, bytes, &mut rejects, |e| {
                        plays += u64::from(e.is_song_play());
                        Ok(())
                    });
                }
                plays
            });
        });
        group.finish();
    }
}

fn songs(c: &mut Criterion) {
    let (_tmp, generated) = common::generated();
    for (label, root) in [("sample", common::sample()), ("generated", generated)] {
        let files = common::read_all(&root, "song_data");
        let mut group = c.benchmark_group("parse_songs");
        group.throughput(Throughput::Bytes(common::total_bytes(&files)));
        group.bench_function(label, |b| {
            let mut parser = JsonParser::default();
            let mut rejects = Vec::new();
            b.iter(|| {
                let mut n = 0usize;
                for (name, bytes) in &files {
                    parse_song_file(&mut parser, name, bytes, &mut rejects, |s| {
                        n += s.song_id.len()
                    });
                }
                n
            });
        });
        group.finish();
    }
}

criterion_group!(benches, logs, songs);
criterion_main!(benches);
