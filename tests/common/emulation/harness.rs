//! The world the emulated-Redshift tests run in (not part of the emulation, which sees only
//! statement text): a throwaway PostgreSQL holding the emulated cluster's database and the
//! reference databases loaded by sparkify's PostgreSQL target, the in-process S3 server, and the
//! comparisons and failure injection the tests share.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::Client;
use sparkify::config::Config;
use sparkify::s3::{s3_client, S3Settings, StaticCredentials};
use sparkify::schema::TABLES;
use sparkify::sink::s3::{publish_to_s3_with, LatestRun, PublishOptions};
use sparkify::warehouse::redshift::{parquet_rows, RedshiftTarget};
use tempfile::TempDir;
use tokio_postgres::NoTls;

use super::super::pg::TestPg;
use super::super::rows::{fetch, Rows};
use super::super::s3::{TestS3, REGION};
use super::super::{copy_sample, load_json, sparkify_ok};
use super::Emulator;

/// A table's name and its sorted rows.
pub type Table = (String, Rows);

pub const ARN: &str = "arn:aws:iam::123456789012:role/sparkify-redshift";
/// The cluster's region, and the staging bucket's.
pub const CLUSTER_REGION: &str = "us-east-1";
/// The region of the raw input bucket (as the Udacity bucket is in us-west-2).
pub const INPUT_REGION: &str = "us-west-2";

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

pub fn target(schema: Option<&str>) -> RedshiftTarget {
    let mut text = String::from(
        "[CLUSTER]\nHOST=example-cluster.abc123xyz789.us-east-1.redshift.amazonaws.com\n\
         DB_NAME=dev\nDB_USER=awsuser\nDB_PASSWORD=pw\nDB_PORT=5439\n",
    );
    if let Some(s) = schema {
        text.push_str(&format!("SCHEMA={s}\n"));
    }
    text.push_str(&format!(
        "[IAM_ROLE]\nARN={ARN}\n[S3]\nSTAGING=s3://staging/dwh\n"
    ));
    let config = Config::parse(Path::new("dwh.cfg"), &text).unwrap();
    RedshiftTarget::from_config(&config, false).unwrap()
}

pub async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A PostgreSQL server, an S3 server with the staging bucket, and a client for it.
pub struct World {
    /// The PostgreSQL server.
    pub pg: TestPg,
    /// The S3 server.
    pub s3: TestS3,
    /// A client of the S3 server.
    pub client: Client,
}

impl World {
    pub async fn start() -> Option<World> {
        let pg = TestPg::start()?;
        let s3 = TestS3::start();
        s3.create_bucket("staging");
        let client = s3_client(&S3Settings {
            region: Some(REGION.to_string()),
            endpoint_url: Some(s3.endpoint.clone()),
            credentials: Some(StaticCredentials::new(&s3.access_key, &s3.secret_key)),
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            ..S3Settings::default()
        })
        .await;
        Some(World { pg, s3, client })
    }

    /// Creates database `db`; its URL.
    pub async fn database(&self, db: &str) -> String {
        pg_client(&self.pg.url())
            .await
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .unwrap();
        self.pg.url_for(db)
    }

    /// Creates database `db` with the star-schema tables made by sparkify's PostgreSQL target;
    /// its URL.
    pub async fn reference(&self, db: &str) -> String {
        let url = self.database(db).await;
        let cwd = tempfile::tempdir().unwrap();
        sparkify_ok(cwd.path(), &["create-tables", "--target", &url]);
        url
    }

    /// An emulated Redshift session on database `db`.
    pub async fn redshift(&self, db: &str) -> Emulator {
        let mut emu =
            Emulator::connect(&self.pg.url_for(db), self.s3.root.path(), CLUSTER_REGION).await;
        emu.bucket_regions
            .push(("udacity-dend".into(), INPUT_REGION.into()));
        emu
    }
}

/// `sparkify transform` of the sample's log days for which `days` holds: (tmp, input, parquet).
pub fn transform(days: impl Fn(u32) -> bool) -> (TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    copy_sample(&tmp.path().join("in"), days);
    sparkify_ok(
        tmp.path(),
        &["transform", "--input", "in", "--output", "w", "-q"],
    );
    let (input, parquet) = (tmp.path().join("in"), tmp.path().join("w"));
    (tmp, input, parquet)
}

/// sparkify's PostgreSQL load (`etl --target <url> --write <write> [extra]`) of `input`.
pub fn postgres_load(url: &str, input: &Path, write: &str, extra: &[&str]) {
    let cwd = tempfile::tempdir().unwrap();
    let summary = load_json(cwd.path(), input, url, write, extra);
    assert!(summary.is_object(), "{summary}");
}

/// Every star-schema table of `schema` (or the search path), sorted rows.
pub async fn tables(client: &tokio_postgres::Client, schema: Option<&str>) -> Vec<(String, Rows)> {
    let mut out = Vec::new();
    for t in TABLES {
        let name = match schema {
            Some(s) => format!("{s}.{}", t.name),
            None => t.name.to_owned(),
        };
        out.push((t.name.to_owned(), fetch(client, &name, t).await));
    }
    out
}

fn counts(tables: &[(String, Rows)]) -> Vec<(&str, usize)> {
    tables.iter().map(|(t, r)| (t.as_str(), r.len())).collect()
}

/// Asserts the emulated Redshift tables equal the PostgreSQL target's, row for row.
pub async fn assert_same(emu: &Emulator, schema: Option<&str>, reference: &str, what: &str) {
    let redshift = tables(emu.reader(), schema).await;
    let postgres = tables(&pg_client(reference).await, None).await;
    assert!(
        redshift.iter().all(|(_, r)| !r.is_empty()),
        "{what}: an empty table: {:?}",
        counts(&redshift)
    );
    for ((name, r), (_, p)) in redshift.iter().zip(&postgres) {
        assert!(
            r == p,
            "{what}: table {name} differs: Redshift (emulated) {} rows, PostgreSQL {} rows; \
             first difference {:?}",
            r.len(),
            p.len(),
            r.iter().zip(p).find(|(a, b)| a != b)
        );
    }
    eprintln!(
        "{what}: equal to the PostgreSQL target: {:?}",
        counts(&redshift)
    );
}

pub async fn publish(
    world: &World,
    target: &RedshiftTarget,
    dir: &Path,
    run_id: &str,
) -> LatestRun {
    let options = PublishOptions {
        rows: parquet_rows(dir).unwrap(),
        ..PublishOptions::default()
    };
    publish_to_s3_with(&world.client, dir, &target.staging, run_id, &options)
        .await
        .unwrap()
        .latest
}

/// Runs `attempt` with a failure injected at statement 0, 1, 2, … of a fresh session until a run
/// issues fewer statements than the index: each failed run must leave `before`; a run that
/// succeeds (a failure after COMMIT, only logged) must leave `after`, and `reset` then brings
/// `before` back. Returns how many injected failures failed the run.
pub async fn fail_at_each_step<F, Fut, R, RFut>(
    world: &World,
    db: &str,
    schema: Option<&str>,
    (before, after): (&[Table], &[Table]),
    what: &str,
    mut attempt: F,
    mut reset: R,
) -> usize
where
    F: FnMut(Emulator) -> Fut,
    Fut: std::future::Future<Output = (Emulator, bool)>,
    R: FnMut(Emulator) -> RFut,
    RFut: std::future::Future<Output = Emulator>,
{
    let mut failed = 0;
    for i in 0.. {
        let mut emu = world.redshift(db).await;
        if tables(emu.reader(), schema).await != before {
            emu = reset(emu).await;
            assert!(
                tables(emu.reader(), schema).await == before,
                "{what}: reset"
            );
            emu = world.redshift(db).await;
        }
        emu.fail_at = Some(i);
        let (emu, ok) = attempt(emu).await;
        let now = tables(emu.reader(), schema).await;
        if emu.statements <= i {
            assert!(ok, "{what}: the run without a failure failed");
            assert!(now == after, "{what}: the complete run left other tables");
            eprintln!("{what}: a failure injected at each of {i} statements: {failed} failed the run, the rest came after COMMIT");
            return failed;
        }
        let statement = emu.log[i]
            .lines()
            .find(|l| !l.starts_with("--"))
            .unwrap_or("")
            .to_owned();
        if ok {
            assert!(
                now == after,
                "{what}: a failure at {i} ({statement}) was ignored but the tables are not the new ones"
            );
        } else {
            failed += 1;
            assert!(
                now == before,
                "{what}: a failure at {i} ({statement}) changed the tables"
            );
        }
    }
    unreachable!()
}

/// Puts every file under `dir` into `bucket` under `prefix/`.
pub fn upload(s3: &TestS3, bucket: &str, prefix: &str, dir: &Path) {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    for f in files {
        let rel = f
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        s3.put(
            bucket,
            &format!("{prefix}/{rel}"),
            &std::fs::read(&f).unwrap(),
        );
    }
}
