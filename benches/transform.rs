//! The fused hot path on one thread: parse log lines, match plays to the catalogue, build the
//! songplays columns; and the Parquet encoding of the result.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sparkify::parse::event::parse_log;
use sparkify::parse::song::parse_song_file;
use sparkify::parse::JsonParser;
use sparkify::sink::parquet::{TableWriter, WriterOptions};
use sparkify::transform::dims::{CatalogBuilder, SongCatalog};
use sparkify::transform::songplays::SongplayBuilder;

fn catalog(root: &std::path::Path) -> SongCatalog {
    let mut parser = JsonParser::default();
    let mut builder = CatalogBuilder::default();
    let mut rejects = Vec::new();
    for (name, bytes) in common::read_all(root, "song_data") {
        let mut object = 0;
        parse_song_file(&mut parser, &name, &bytes, &mut rejects, |s| {
            builder.push(s, &name, object);
            object += 1;
        });
    }
    let (batch, _) = builder.finish().expect("catalogue batch");
    SongCatalog::build(vec![batch]).expect("catalogue")
}

fn songplays(c: &mut Criterion) {
    let (tmp, root) = common::generated();
    let catalog = catalog(&root);
    let files = common::read_all(&root, "log_data");
    let mut group = c.benchmark_group("transform");
    group.throughput(Throughput::Bytes(common::total_bytes(&files)));
    group.sample_size(10);
    group.bench_function("parse_match_songplays", |b| {
        let mut parser = JsonParser::default();
        let mut rejects = Vec::new();
        b.iter(|| {
            let mut rows = 0;
            for (name, bytes) in &files {
                let mut builder = SongplayBuilder::new(&catalog, bytes.len() / 300);
                parse_log(&mut parser, name, bytes, &mut rejects, |e| builder.add(e));
                rows += builder.finish().expect("chunk").batch.num_rows();
            }
            rows
        });
    });

    let mut parser = JsonParser::default();
    let mut rejects = Vec::new();
    let chunks: Vec<_> = files
        .iter()
        .map(|(name, bytes)| {
            let mut builder = SongplayBuilder::new(&catalog, bytes.len() / 300);
            parse_log(&mut parser, name, bytes, &mut rejects, |e| builder.add(e));
            builder.finish().expect("chunk").batch
        })
        .collect();
    group.bench_function("parquet_songplays_snappy", |b| {
        b.iter(|| {
            let mut w = TableWriter::new(
                tmp.path(),
                &sparkify::schema::SONGPLAYS,
                WriterOptions::default(),
            )
            .expect("writer");
            for batch in &chunks {
                w.write(batch).expect("write");
            }
            w.finish().expect("finish")
        });
    });
    group.finish();
}

criterion_group!(benches, songplays);
criterion_main!(benches);
