//! PostgreSQL load path against a throwaway server (see `common/pg.rs`).
//!
//! Each test starts its own server (initdb takes well under a second with `--no-sync`), writes the
//! five star-schema tables as Snappy Parquet, loads them with the real loader and reads the rows
//! back, comparing every value exactly.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use sparkify::schema::{ColumnType, Table, ARTISTS, SONGPLAYS, SONGS, TABLES, TIME, USERS};
use sparkify::warehouse::exec::ExecError;
use sparkify::warehouse::postgres::{self, PgError, PgTarget, TableData, Transport, WriteMode};
use sparkify::warehouse::sql::{Dialect, Ident, Sql};

use common::pg::TestPg;
use common::rows::{f, fetch, s, sort_rows, Rows, V};

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// 2018-11-01T00:00:00Z in microseconds.
const NOV_1_2018: i64 = 1_541_030_400_000_000;
const HOUR: i64 = 3_600_000_000;

// ---------------------------------------------------------------------------------------------
// Data sets
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
/// The first load: every table, with non-ASCII text, NULLs, timestamps before 1970 and 2000.
fn set_a() -> Vec<(&'static Table, Rows)> {
    vec![
        (
            &USERS,
            vec![
                vec![V::I32(1), s("Zoë"), s("Ångström"), s("F"), s("free"), V::Ts(NOV_1_2018 + HOUR)],
                vec![V::I32(2), s("東京"), s("太郎"), s("M"), s("paid"), V::Ts(NOV_1_2018 + 5 * HOUR)],
                vec![V::I32(3), V::Null, V::Null, V::Null, V::Null, V::Ts(946_684_799_999_999)],
                vec![V::I32(88), s("Mohammad"), s("Rodriguez"), s("M"), s("paid"), V::Ts(NOV_1_2018 + 7)],
            ],
        ),
        (
            &SONGS,
            vec![
                vec![s("SOAAAAA12AB0180001"), s("Héroes 🎵"), s("ARAAAAA1187B9A0001"), V::I32(1997), f(218.93179)],
                vec![s("SOBBBBB12AB0180002"), s("Sigur Rós – Hoppípolla"), s("ARBBBBB1187B9A0002"), V::I32(0), f(0.1 + 0.2)],
                vec![s("SOCCCCC12AB0180003"), s("It's \"quoted\", with\ttab\nand newline"), V::Null, V::Null, V::Null],
            ],
        ),
        (
            &ARTISTS,
            vec![
                vec![s("ARAAAAA1187B9A0001"), s("Beyoncé"), s("Houston, TX"), f(29.76045), f(-95.36978)],
                vec![s("ARBBBBB1187B9A0002"), s("Sigur Rós"), s("Reykjavík, Ísland"), f(1e-300), f(-0.0)],
                vec![s("ARCCCCC1187B9A0003"), s("112"), V::Null, V::Null, V::Null],
            ],
        ),
        (
            &TIME,
            vec![
                vec![V::Ts(NOV_1_2018 + HOUR + 796_000), V::I32(1), V::I32(1), V::I32(44), V::I32(11), V::I32(2018), V::I32(4)],
                vec![V::Ts(NOV_1_2018 + 5 * HOUR + 1), V::I32(5), V::I32(1), V::I32(44), V::I32(11), V::I32(2018), V::I32(4)],
                vec![V::Ts(-14_182_940_000_000), V::I32(20), V::I32(20), V::I32(29), V::I32(7), V::I32(1969), V::I32(0)],
            ],
        ),
        (
            &SONGPLAYS,
            vec![
                vec![V::I64(-9_000_000_000_000_000_001), V::Ts(NOV_1_2018 + HOUR + 796_000), V::I32(1), s("free"), s("SOAAAAA12AB0180001"), s("ARAAAAA1187B9A0001"), V::I32(139), s("Houston–Sugar Land, TX"), s("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4)")],
                vec![V::I64(42), V::Ts(NOV_1_2018 + 5 * HOUR + 1), V::I32(2), s("paid"), V::Null, V::Null, V::I32(9), V::Null, V::Null],
                vec![V::I64(i64::MAX), V::Ts(-14_182_940_000_000), V::I32(88), V::Null, V::Null, V::Null, V::I32(0), s("Tōkyō 東京都"), s("\"Mozilla/5.0\" 😀")],
            ],
        ),
    ]
}

#[rustfmt::skip]
/// An incremental load: user 1 newer (paid), user 2 older (free, must not win), user 4 new; a new
/// songplay and time row; one artist updated.
fn set_b() -> Vec<(&'static Table, Rows)> {
    vec![
        (
            &USERS,
            vec![
                vec![V::I32(1), s("Zoë"), s("Ångström"), s("F"), s("paid"), V::Ts(NOV_1_2018 + 30 * HOUR)],
                vec![V::I32(2), s("東京"), s("太郎"), s("M"), s("free"), V::Ts(NOV_1_2018 + 2 * HOUR)],
                vec![V::I32(4), s("Ana"), s("Núñez"), s("F"), s("free"), V::Ts(NOV_1_2018 + 31 * HOUR)],
            ],
        ),
        (&SONGS, vec![]),
        (
            &ARTISTS,
            vec![vec![s("ARCCCCC1187B9A0003"), s("112"), s("Atlanta, GA"), f(33.749), f(-84.388)]],
        ),
        (
            &TIME,
            vec![vec![V::Ts(NOV_1_2018 + 30 * HOUR), V::I32(6), V::I32(2), V::I32(44), V::I32(11), V::I32(2018), V::I32(5)]],
        ),
        (
            &SONGPLAYS,
            vec![vec![V::I64(7), V::Ts(NOV_1_2018 + 30 * HOUR), V::I32(1), s("paid"), V::Null, V::Null, V::I32(140), s("Houston–Sugar Land, TX"), s("Mozilla/5.0")]],
        ),
    ]
}

fn rows_of(set: &[(&'static Table, Rows)], table: &Table) -> Rows {
    set.iter()
        .find(|(t, _)| t.name == table.name)
        .map(|(_, r)| r.clone())
        .unwrap_or_default()
}

/// Upserts `b` into `a` by key, keeping the newer `level_at` for users (the expected merge).
fn merged(
    a: &[(&'static Table, Rows)],
    b: &[(&'static Table, Rows)],
) -> Vec<(&'static Table, Rows)> {
    TABLES
        .iter()
        .map(|t| {
            let mut rows = rows_of(a, t);
            for new in rows_of(b, t) {
                match rows.iter().position(|r| r[0] == new[0]) {
                    Some(i) if t.name == "users" => {
                        if new[5] >= rows[i][5] {
                            rows[i] = new;
                        }
                    }
                    Some(i) => rows[i] = new,
                    None => rows.push(new),
                }
            }
            (*t, rows)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Parquet
// ---------------------------------------------------------------------------------------------

fn batch(schema: SchemaRef, table: &Table, rows: &[Vec<V>]) -> RecordBatch {
    let columns: Vec<ArrayRef> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| -> ArrayRef {
            let col = rows.iter().map(|r| &r[i]);
            match c.ty {
                ColumnType::BigInt => Arc::new(Int64Array::from(
                    col.map(|v| match v {
                        V::I64(x) => Some(*x),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
                )),
                ColumnType::Integer => Arc::new(Int32Array::from(
                    col.map(|v| match v {
                        V::I32(x) => Some(*x),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
                )),
                ColumnType::Double => Arc::new(Float64Array::from(
                    col.map(|v| match v {
                        V::F64(x) => Some(x.0),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
                )),
                ColumnType::Timestamp => Arc::new(TimestampMicrosecondArray::from(
                    col.map(|v| match v {
                        V::Ts(x) => Some(*x),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
                )),
                ColumnType::Varchar(_) => Arc::new(StringArray::from(
                    col.map(|v| match v {
                        V::S(x) => Some(x.as_str()),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
                )),
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns).expect("valid test batch")
}

fn write_parquet_with_schema(path: &Path, schema: SchemaRef, table: &Table, batches: &[&[Vec<V>]]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).unwrap();
    for rows in batches {
        w.write(&batch(schema.clone(), table, rows)).unwrap();
    }
    w.close().unwrap();
}

/// Writes each table as `<dir>/<table>/part-NNNNN.parquet`, one file per row (so multi-file tables
/// are exercised) and one empty file, and returns the load request.
fn write_set(dir: &Path, set: &[(&'static Table, Rows)]) -> Vec<TableData> {
    set.iter()
        .map(|(t, rows)| {
            let tdir = dir.join(t.name);
            let mut files = Vec::new();
            for (i, row) in rows.iter().enumerate() {
                let p = tdir.join(format!("part-{i:05}.parquet"));
                write_parquet_with_schema(&p, t.arrow_schema(), t, &[std::slice::from_ref(row)]);
                files.push(p);
            }
            let empty = tdir.join(format!("part-{:05}.parquet", rows.len()));
            write_parquet_with_schema(&empty, t.arrow_schema(), t, &[]);
            files.push(empty);
            TableData { table: t, files }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reading back
// ---------------------------------------------------------------------------------------------

async fn assert_warehouse(
    client: &tokio_postgres::Client,
    schema: Option<&str>,
    expected: &[(&'static Table, Rows)],
) {
    for t in TABLES {
        let qualified = match schema {
            Some(s) => format!("{s}.{}", t.name),
            None => t.name.to_owned(),
        };
        let mut want = rows_of(expected, t);
        sort_rows(&mut want);
        let got = fetch(client, &qualified, t).await;
        assert_eq!(got, want, "table {}", t.name);
    }
}

async fn snapshot(client: &tokio_postgres::Client) -> Vec<Rows> {
    let mut v = Vec::new();
    for t in TABLES {
        v.push(fetch(client, t.name, t).await);
    }
    v
}

async fn connect(pg: &TestPg) -> tokio_postgres::Client {
    PgTarget::parse(&pg.url())
        .expect("test URL parses")
        .connect()
        .await
        .expect("connect through PgTarget")
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_round_trips_exactly_and_is_idempotent() {
    let Some(pg) = TestPg::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut client = connect(&pg).await;
    postgres::create_tables(&mut client, None).await.unwrap();
    // Creating twice is harmless.
    postgres::create_tables(&mut client, None).await.unwrap();

    let a = set_a();
    let req = write_set(dir.path(), &a);
    let report = postgres::load(&mut client, &req, WriteMode::Replace)
        .await
        .unwrap();
    assert_eq!(
        report.tables.iter().map(|t| t.table).collect::<Vec<_>>(),
        ["users", "songs", "artists", "time", "songplays"]
    );
    for (t, rows) in &a {
        let r = report.table(t.name).unwrap();
        assert_eq!(r.staged, rows.len() as u64, "{}", t.name);
        assert_eq!(r.inserted, rows.len() as u64, "{}", t.name);
        assert_eq!(r.deleted, 0, "{}", t.name);
        assert_eq!(r.files, rows.len() + 1, "{}", t.name);
    }
    assert_warehouse(&client, None, &a).await;
    // Absolute values, as PostgreSQL itself renders them (not only a symmetric round trip).
    let text = |q: &'static str| {
        let client = &client;
        async move { client.query_one(q, &[]).await.unwrap().get::<_, String>(0) }
    };
    assert_eq!(
        text("SELECT level_at::text FROM users WHERE user_id = 3").await,
        "1999-12-31 23:59:59.999999"
    );
    assert_eq!(
        text("SELECT min(start_time)::text FROM time").await,
        "1969-07-20 20:17:40"
    );
    assert_eq!(
        text("SELECT max(start_time)::text FROM songplays WHERE user_id = 1").await,
        "2018-11-01 01:00:00.796"
    );
    assert_eq!(
        text("SELECT duration::text FROM songs WHERE year = 0").await,
        "0.30000000000000004"
    );
    assert_eq!(
        text("SELECT octet_length(title)::text FROM songs WHERE year = 1997").await,
        "12" // "Héroes 🎵": é is 2 bytes, 🎵 is 4
    );
    let first = snapshot(&client).await;

    // Same load again: identical tables; the report shows everything replaced.
    let report = postgres::load(&mut client, &req, WriteMode::Replace)
        .await
        .unwrap();
    assert_eq!(report.table("users").unwrap().deleted, 4);
    assert_eq!(snapshot(&client).await, first);

    // Merging the same data is also a no-op.
    postgres::load(&mut client, &req, WriteMode::Merge)
        .await
        .unwrap();
    assert_eq!(snapshot(&client).await, first);

    // Over the Unix socket, libpq style.
    let target = PgTarget::parse(&pg.socket_url_for("postgres")).unwrap();
    assert!(matches!(target.plan().unwrap().transport, Transport::Plain));
    let mut via_socket = target.connect().await.unwrap();
    postgres::load(&mut via_socket, &req, WriteMode::Replace)
        .await
        .unwrap();
    assert_eq!(snapshot(&via_socket).await, first);
    eprintln!(
        "round trip: {} tables, {} rows compared exactly",
        first.len(),
        first.iter().map(Vec::len).sum::<usize>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_keeps_newest_level_in_any_order() {
    let Some(pg) = TestPg::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (set_a(), set_b());
    let req_a = write_set(&dir.path().join("a"), &a);
    let req_b = write_set(&dir.path().join("b"), &b);
    let expected = merged(&a, &b);

    // A then B.
    let mut client = connect(&pg).await;
    postgres::create_tables(&mut client, None).await.unwrap();
    postgres::load(&mut client, &req_a, WriteMode::Replace)
        .await
        .unwrap();
    let report = postgres::load(&mut client, &req_b, WriteMode::Merge)
        .await
        .unwrap();
    assert_warehouse(&client, None, &expected).await;
    let users = report.table("users").unwrap();
    assert_eq!((users.staged, users.deleted, users.inserted), (3, 1, 2));
    let level_of = |rows: &Rows, id: i32| {
        rows.iter()
            .find(|r| r[0] == V::I32(id))
            .map(|r| r[4].clone())
            .unwrap()
    };
    let got = fetch(&client, "users", &USERS).await;
    assert_eq!(level_of(&got, 1), s("paid"), "newer staged level wins");
    assert_eq!(level_of(&got, 2), s("paid"), "older staged level loses");
    // Merging B again changes nothing.
    let before = snapshot(&client).await;
    postgres::load(&mut client, &req_b, WriteMode::Merge)
        .await
        .unwrap();
    assert_eq!(snapshot(&client).await, before);

    // B then A, in another database: users converge to the same rows (other tables are plain
    // upserts, where the last load wins by design).
    pg.create_database("reverse").await;
    let mut other = PgTarget::parse(&pg.url_for("reverse"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    postgres::create_tables(&mut other, None).await.unwrap();
    postgres::load(&mut other, &req_b, WriteMode::Merge)
        .await
        .unwrap();
    postgres::load(&mut other, &req_a, WriteMode::Merge)
        .await
        .unwrap();
    assert_eq!(fetch(&other, "users", &USERS).await, got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_roll_back_everything() {
    let Some(pg) = TestPg::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut client = connect(&pg).await;
    postgres::create_tables(&mut client, None).await.unwrap();
    let a = set_a();
    postgres::load(
        &mut client,
        &write_set(&dir.path().join("a"), &a),
        WriteMode::Replace,
    )
    .await
    .unwrap();
    let before = snapshot(&client).await;

    let b = set_b();
    let bad_dir = dir.path().join("bad");
    let with_songplays = |files: Vec<PathBuf>| {
        let mut req = write_set(&dir.path().join("b"), &b);
        req.last_mut().unwrap().files = files;
        req
    };

    // 1. Not a Parquet file: fails while staging the 5th table (the others are already staged).
    std::fs::create_dir_all(&bad_dir).unwrap();
    let garbage = bad_dir.join("garbage.parquet");
    std::fs::write(&garbage, b"this is not parquet").unwrap();
    for mode in [WriteMode::Replace, WriteMode::Merge] {
        let e = postgres::load(&mut client, &with_songplays(vec![garbage.clone()]), mode)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                PgError::ReadParquet {
                    table: "songplays",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("garbage.parquet"), "{e}");
        eprintln!("garbage file ({mode}): {e}");
        assert_eq!(snapshot(&client).await, before);
    }

    // 2. Duplicate key in the fact table: fails in the final INSERT, after the four dimensions
    //    were already replaced inside the transaction.
    let dup = bad_dir.join("dup.parquet");
    let row = rows_of(&b, &SONGPLAYS)[0].clone();
    write_parquet_with_schema(
        &dup,
        SONGPLAYS.arrow_schema(),
        &SONGPLAYS,
        &[&[row.clone(), row]],
    );
    let e = postgres::load(&mut client, &with_songplays(vec![dup]), WriteMode::Replace)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            PgError::Statement(ExecError::Statement {
                table: Some("songplays"),
                ..
            })
        ),
        "{e}"
    );
    assert!(e.to_string().contains("23505"), "{e}");
    eprintln!("duplicate key: {e}");
    assert_eq!(snapshot(&client).await, before);

    // 3. The server rejects a row mid-COPY (NULL in a NOT NULL column, written with a nullable
    //    Parquet field).
    let nullable = Arc::new(arrow::datatypes::Schema::new(
        SONGPLAYS
            .arrow_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ));
    let mut null_row = rows_of(&b, &SONGPLAYS)[0].clone();
    null_row[2] = V::Null;
    let nulls = bad_dir.join("null_user.parquet");
    write_parquet_with_schema(
        &nulls,
        nullable,
        &SONGPLAYS,
        &[&[rows_of(&a, &SONGPLAYS)[1].clone(), null_row]],
    );
    let e = postgres::load(&mut client, &with_songplays(vec![nulls]), WriteMode::Merge)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            PgError::Copy {
                table: "songplays",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("null_user.parquet"), "{e}");
    eprintln!("server-side COPY failure: {e}");
    assert_eq!(snapshot(&client).await, before);

    // 4. Client-side failure mid-COPY (NUL byte in text): the COPY is aborted.
    let mut nul_row = rows_of(&b, &SONGPLAYS)[0].clone();
    nul_row[7] = s("bad\0text");
    let nul = bad_dir.join("nul.parquet");
    write_parquet_with_schema(
        &nul,
        SONGPLAYS.arrow_schema(),
        &SONGPLAYS,
        &[&[rows_of(&a, &SONGPLAYS)[1].clone(), nul_row]],
    );
    let e = postgres::load(&mut client, &with_songplays(vec![nul]), WriteMode::Replace)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            PgError::Value {
                table: "songplays",
                column: "location",
                row: 1,
                ..
            }
        ),
        "{e}"
    );
    eprintln!("client-side value failure: {e}");
    assert_eq!(snapshot(&client).await, before);

    // 5. A file with the wrong columns.
    let wrong = bad_dir.join("users_as_songplays.parquet");
    write_parquet_with_schema(
        &wrong,
        USERS.arrow_schema(),
        &USERS,
        &[&rows_of(&a, &USERS)],
    );
    let e = postgres::load(
        &mut client,
        &with_songplays(vec![wrong]),
        WriteMode::Replace,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            PgError::SchemaMismatch {
                table: "songplays",
                ..
            }
        ),
        "{e}"
    );
    eprintln!("schema mismatch: {e}");
    assert_eq!(snapshot(&client).await, before);

    // 6. A missing target table (dropped): clear error naming the table, nothing changed.
    client
        .batch_execute("ALTER TABLE songplays RENAME TO songplays_gone")
        .await
        .unwrap();
    let e = postgres::load(&mut client, &with_songplays(vec![]), WriteMode::Replace)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            PgError::Statement(ExecError::Statement {
                table: Some("songplays"),
                ..
            })
        ),
        "{e}"
    );
    eprintln!("missing table: {e}");
    client
        .batch_execute("ALTER TABLE songplays_gone RENAME TO songplays")
        .await
        .unwrap();

    // The connection is still usable and the data intact; a good load still works.
    assert_eq!(snapshot(&client).await, before);
    postgres::load(
        &mut client,
        &write_set(&dir.path().join("b2"), &b),
        WriteMode::Merge,
    )
    .await
    .unwrap();
    assert_warehouse(&client, None, &merged(&a, &b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_qualified_ddl_and_load() {
    let Some(pg) = TestPg::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut client = connect(&pg).await;
    let schema = Ident::new("dwh").unwrap();
    postgres::create_tables(&mut client, Some(&schema))
        .await
        .unwrap();
    let a = set_a();
    let sql = Sql::new(Dialect::Postgres, Some(schema.clone()));
    postgres::load_with(
        &mut client,
        &sql,
        &write_set(dir.path(), &a),
        WriteMode::Merge,
    )
    .await
    .unwrap();
    assert_warehouse(&client, Some("dwh"), &a).await;
    // Nothing landed in public.
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    postgres::drop_tables(&mut client, Some(&schema))
        .await
        .unwrap();
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'dwh'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    // Redshift statements are refused by the PostgreSQL loader.
    let e = postgres::load_with(
        &mut client,
        &Sql::new(Dialect::Redshift, None),
        &[],
        WriteMode::Merge,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, PgError::InvalidRequest(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors_name_the_endpoint_not_the_password() {
    let Some(pg) = TestPg::start() else { return };
    // Wrong database.
    let url = format!(
        "postgres://postgres:hunter2@127.0.0.1:{}/nope?sslmode=disable",
        pg.port()
    );
    let e = PgTarget::parse(&url).unwrap().connect().await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{}/nope", pg.port())),
        "{msg}"
    );
    assert!(msg.contains("does not exist"), "{msg}");
    assert!(
        !msg.contains("hunter2") && !format!("{e:?}").contains("hunter2"),
        "{msg}"
    );
    eprintln!("wrong database: {msg}");
    // sslmode=require against a server without TLS.
    let url = format!(
        "postgres://postgres:hunter2@127.0.0.1:{}/postgres?sslmode=require",
        pg.port()
    );
    let e = PgTarget::parse(&url).unwrap().connect().await.unwrap_err();
    assert!(!e.to_string().contains("hunter2"));
    eprintln!("require without server TLS: {e}");
    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres:hunter2@127.0.0.1:{closed}/db?connect_timeout=5");
    let e = PgTarget::parse(&url).unwrap().connect().await.unwrap_err();
    assert!(
        e.to_string().contains(&format!("127.0.0.1:{closed}/db")),
        "{e}"
    );
    assert!(!e.to_string().contains("hunter2"));
    eprintln!("nothing listening: {e}");
}

#[test]
fn non_local_host_without_tls_is_refused_before_connecting() {
    // No server: the refusal comes from the plan, before any network traffic.
    let t = PgTarget::parse("postgres://etl:hunter2@warehouse.example.com:5432/sparkify").unwrap();
    let e = t.plan().unwrap_err();
    assert!(matches!(e, PgError::InsecureRemote { .. }), "{e}");
    assert!(e
        .to_string()
        .contains("warehouse.example.com:5432/sparkify"));
    assert!(!e.to_string().contains("hunter2"));
    for mode in ["disable", "allow", "prefer"] {
        let t = PgTarget::parse(&format!(
            "postgres://etl@192.0.2.10/sparkify?sslmode={mode}"
        ))
        .unwrap();
        assert!(
            matches!(t.plan(), Err(PgError::InsecureRemote { .. })),
            "{mode}"
        );
    }
    // verify-* also need a trusted root (tests/postgres_tls.rs).
    for query in ["sslmode=require", "sslmode=verify-full&sslrootcert=system"] {
        let t = PgTarget::parse(&format!("postgres://etl@192.0.2.10/sparkify?{query}")).unwrap();
        assert!(
            matches!(t.plan().unwrap().transport, Transport::Tls { .. }),
            "{query}"
        );
    }
    // And connect() refuses the same way, immediately.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = PgTarget::parse("postgres://etl:hunter2@warehouse.example.com/sparkify").unwrap();
    let e = rt.block_on(t.connect()).unwrap_err();
    assert!(matches!(e, PgError::InsecureRemote { .. }), "{e}");
    eprintln!("refused: {e}");
}

/// Whether the session runs over TLS, as the server sees it.
async fn server_sees_tls(client: &tokio_postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_modes_against_a_tls_server() {
    let Some(pg) = TestPg::start_with_tls() else {
        return;
    };
    let port = pg.port();
    let ca = pg.ca_cert();
    let ca = ca.display();
    let url =
        |host: &str, query: &str| format!("postgres://postgres:pw@{host}:{port}/postgres?{query}");

    // Plain is still possible locally (prefer → plain for local hosts).
    let plain = PgTarget::parse(&url("127.0.0.1", "sslmode=prefer"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert!(!server_sees_tls(&plain).await);

    // require: encrypted, certificate not checked (libpq semantics). Channel binding would be
    // required, which this trust login cannot give (tests/postgres_tls.rs tests that rule): opt out.
    let mut c = PgTarget::parse(&url("127.0.0.1", "sslmode=require&channel_binding=disable"))
        .unwrap()
        .use_default_root_file(false)
        .connect()
        .await
        .unwrap();
    assert!(server_sees_tls(&c).await);
    // A whole load over TLS.
    let dir = tempfile::tempdir().unwrap();
    let a = set_a();
    postgres::create_tables(&mut c, None).await.unwrap();
    postgres::load(&mut c, &write_set(dir.path(), &a), WriteMode::Replace)
        .await
        .unwrap();
    assert_warehouse(&c, None, &a).await;

    // verify-full with the test CA and the certificate's name.
    let c = PgTarget::parse(&url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .unwrap()
    .connect()
    .await
    .unwrap();
    assert!(server_sees_tls(&c).await);

    // verify-ca accepts the chain without the name; require + sslrootcert behaves like verify-ca.
    for mode in ["verify-ca", "require"] {
        let c = PgTarget::parse(&url(
            "127.0.0.1",
            &format!("sslmode={mode}&sslrootcert={ca}"),
        ))
        .unwrap()
        .connect()
        .await
        .unwrap();
        assert!(server_sees_tls(&c).await, "{mode}");
    }

    // verify-full to a name the certificate does not carry fails.
    let e = PgTarget::parse(&url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .unwrap()
    .connect()
    .await
    .unwrap_err();
    assert!(matches!(e, PgError::Connect { .. }), "{e}");
    eprintln!("verify-full, wrong name: {e}");

    // verify-full against the bundled public roots fails: the test CA is unknown.
    let e = PgTarget::parse(&url("localhost", "sslmode=verify-full&sslrootcert=system"))
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(e, PgError::Connect { .. }), "{e}");
    assert!(!e.to_string().contains("pw@"), "{e}");
    eprintln!("verify-full, unknown CA: {e}");
}
