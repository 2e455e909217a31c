//! The real Redshift plans run against Redshift's behaviour, emulated on the throwaway
//! PostgreSQL 15 and the in-process S3 server (`common/emulation/`): Parquet replace, merge and
//! incremental loads (15, then 30 days of events) with and without `[CLUSTER] SCHEMA`, and ELT
//! from the raw JSON. The tables must equal sparkify's PostgreSQL load of the same input row for
//! row, a failure injected at each statement must leave the previous tables, and COPY must fail
//! where Redshift's COPY fails. Not a substitute for a live cluster; nothing here talks to
//! anything but 127.0.0.1 servers the tests start.

mod common;

use std::path::Path;

use common::emulation::harness::{
    assert_same, fail_at_each_step, pg_client, postgres_load, publish, tables, target, transform,
    upload, World, ARN, INPUT_REGION,
};
use common::emulation::Emulator;
use common::sample;
use sparkify::schema::TABLES;
use sparkify::warehouse::elt;
use sparkify::warehouse::elt::sql::{EltSql, S3Input};
use sparkify::warehouse::literal::Ident;
use sparkify::warehouse::redshift::{
    execute, load_run, parquet_rows, plan_ddl, publish_and_load, Executor, LoadedRun,
    RedshiftError, RedshiftTarget,
};
use sparkify::warehouse::session::SessionSettings;
use sparkify::warehouse::WriteMode;

async fn load(
    world: &World,
    emu: &mut Emulator,
    target: &RedshiftTarget,
    dir: &Path,
    run_id: &str,
    mode: WriteMode,
) -> Result<LoadedRun, RedshiftError> {
    let rows = parquet_rows(dir).unwrap();
    publish_and_load(emu, &world.client, target, dir, run_id, rows, mode).await
}

// ---------------------------------------------------------------------------------------------
// Parquet loads
// ---------------------------------------------------------------------------------------------

/// Merge 15 days, merge 30 days (incremental), then replace with 15 days, on the emulated
/// Redshift and on PostgreSQL; equal after every step.
async fn parquet_loads_equal_postgres(schema: Option<&str>) {
    let Some(world) = World::start().await else {
        return;
    };
    let db = if schema.is_some() {
        "rs_schema"
    } else {
        "rs_public"
    };
    world.database(db).await;
    let reference = world.reference("reference").await;
    let target = target(schema);
    let mut emu = world.redshift(db).await;
    // A decoy of the same name in public: with a schema configured it is never read or written.
    emu.reader()
        .batch_execute(
            "CREATE TABLE public.users (user_id INTEGER); INSERT INTO public.users VALUES (-1)",
        )
        .await
        .unwrap();
    if schema.is_none() {
        emu.reader()
            .batch_execute("DROP TABLE public.users")
            .await
            .unwrap();
    }
    execute(&mut emu, &plan_ddl(&target.sql(), true))
        .await
        .unwrap();
    // Creating twice is harmless.
    execute(&mut emu, &plan_ddl(&target.sql(), true))
        .await
        .unwrap();

    let (_t15, in15, w15) = transform(|d| d <= 15);
    let (_t30, in30, w30) = transform(|_| true);
    let loaded = load(&world, &mut emu, &target, &w15, "run-15", WriteMode::Merge)
        .await
        .unwrap();
    postgres_load(&reference, &in15, "merge", &[]);
    assert_same(&emu, schema, &reference, "merge of days 1-15").await;
    let rows15 = parquet_rows(&w15).unwrap();
    for t in &loaded.report.tables {
        assert_eq!(
            (t.staged, t.inserted),
            (rows15[t.table], rows15[t.table]),
            "{}",
            t.table
        );
    }

    load(&world, &mut emu, &target, &w30, "run-30", WriteMode::Merge)
        .await
        .unwrap();
    postgres_load(&reference, &in30, "merge", &[]);
    assert_same(&emu, schema, &reference, "incremental merge of days 1-30").await;
    let songplays = &tables(emu.reader(), schema).await[4].1;
    assert_eq!(songplays.len(), 6820);

    load(
        &world,
        &mut emu,
        &target,
        &w15,
        "run-15b",
        WriteMode::Replace,
    )
    .await
    .unwrap();
    postgres_load(&reference, &in15, "replace", &[]);
    assert_same(&emu, schema, &reference, "replace with days 1-15").await;

    if schema.is_some() {
        let decoy = emu
            .reader()
            .query("SELECT user_id FROM public.users", &[])
            .await
            .unwrap();
        assert_eq!(decoy.len(), 1);
        assert_eq!(decoy[0].get::<_, i32>(0), -1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_loads_equal_the_postgresql_target() {
    parquet_loads_equal_postgres(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_loads_in_a_schema_equal_the_postgresql_target() {
    parquet_loads_equal_postgres(Some("sparkify")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_at_each_step_of_a_parquet_load_leaves_the_previous_tables() {
    let Some(world) = World::start().await else {
        return;
    };
    let schema = Some("sparkify");
    world.database("rs").await;
    let reference = world.reference("reference").await;
    let target = target(schema);
    let mut emu = world.redshift("rs").await;
    execute(&mut emu, &plan_ddl(&target.sql(), true))
        .await
        .unwrap();
    let (_t15, _in15, w15) = transform(|d| d <= 15);
    let (_t30, in30, w30) = transform(|_| true);
    let run15 = publish(&world, &target, &w15, "run-15").await;
    load_run(&mut emu, &target, &run15, WriteMode::Merge)
        .await
        .unwrap();
    let before = tables(emu.reader(), schema).await;
    let run30 = publish(&world, &target, &w30, "run-30").await;
    postgres_load(&reference, &in30, "replace", &[]);
    let after = tables(&pg_client(&reference).await, None).await;

    for mode in [WriteMode::Merge, WriteMode::Replace] {
        let failed = fail_at_each_step(
            &world,
            "rs",
            schema,
            (&before, &after),
            &format!("Parquet {mode:?}"),
            |mut emu| {
                let (target, run) = (target.clone(), run30.clone());
                async move {
                    let ok = load_run(&mut emu, &target, &run, mode).await.is_ok();
                    (emu, ok)
                }
            },
            |mut emu| {
                let (target, run) = (target.clone(), run15.clone());
                async move {
                    load_run(&mut emu, &target, &run, WriteMode::Replace)
                        .await
                        .unwrap();
                    emu
                }
            },
        )
        .await;
        assert!(
            failed >= 10,
            "{mode:?}: only {failed} failures failed the run"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// ELT: COPY of the raw JSON from S3, the star schema built in the warehouse
// ---------------------------------------------------------------------------------------------

/// The Redshift ELT statements for the input under `s3://udacity-dend/<prefix>/`, loading the
/// tables of `schema`.
fn elt_sql(prefix: &str, mode: WriteMode, schema: Option<&str>) -> EltSql {
    let root = format!("s3://udacity-dend/{prefix}");
    let input = S3Input::new(
        &format!("{root}/log_data"),
        &format!("{root}/song_data"),
        "s3://udacity-dend/log_json_path.json",
        ARN,
        Some(INPUT_REGION),
        0,
    )
    .unwrap();
    let session = SessionSettings::with_schema(schema.map(|s| Ident::new(s).unwrap()));
    EltSql::redshift(mode, &session, input)
}

/// Runs the ELT statements with the library's ELT runner.
async fn run_elt(emu: &mut Emulator, sql: &EltSql) -> sparkify::Result<()> {
    elt::execute::execute(emu, sql, None, &mut elt::execute::Staged::default())
        .await
        .map(drop)
}

/// ELT replace of 15 days, then ELT merge of 30 days, on the emulated Redshift (tables in
/// `schema`) and on PostgreSQL: equal after each. With `inject`, a failure at each statement of
/// the merge must leave the 15-day tables.
async fn elt_equals_postgres(schema: Option<&str>, inject: bool) {
    let Some(world) = World::start().await else {
        return;
    };
    world.database("rs").await;
    let reference = world.reference("reference").await;
    let target = target(schema);
    let (_t15, in15, _w15) = transform(|d| d <= 15);
    world.s3.create_bucket("udacity-dend");
    upload(&world.s3, "udacity-dend", "d15", &in15);
    upload(&world.s3, "udacity-dend", "d30", &sample());
    world.s3.put(
        "udacity-dend",
        "log_json_path.json",
        &std::fs::read(sample().join("log_json_path.json")).unwrap(),
    );

    let mut emu = world.redshift("rs").await;
    if schema.is_some() {
        // A decoy of the same name in public is never read or written.
        emu.reader()
            .batch_execute(
                "CREATE TABLE public.users (user_id INTEGER); INSERT INTO public.users VALUES (-1)",
            )
            .await
            .unwrap();
    }
    execute(&mut emu, &plan_ddl(&target.sql(), true))
        .await
        .unwrap();
    run_elt(&mut emu, &elt_sql("d15", WriteMode::Replace, schema))
        .await
        .unwrap();
    postgres_load(&reference, &in15, "replace", &["--mode", "elt"]);
    assert_same(&emu, schema, &reference, "ELT replace of days 1-15").await;
    let before = tables(emu.reader(), schema).await;

    // A new session per run, as sparkify connects per run (the staging tables are temporary).
    let mut emu = world.redshift("rs").await;
    run_elt(&mut emu, &elt_sql("d30", WriteMode::Merge, schema))
        .await
        .unwrap();
    postgres_load(&reference, &sample(), "merge", &["--mode", "elt"]);
    assert_same(&emu, schema, &reference, "ELT merge of days 1-30").await;
    let after = tables(emu.reader(), schema).await;
    if schema.is_some() {
        let decoy = emu
            .reader()
            .query("SELECT user_id FROM public.users", &[])
            .await
            .unwrap();
        assert_eq!(decoy.len(), 1);
    }
    if !inject {
        return;
    }
    let failed = fail_at_each_step(
        &world,
        "rs",
        schema,
        (&before, &after),
        "ELT merge",
        |mut emu| async move {
            let ok = run_elt(&mut emu, &elt_sql("d30", WriteMode::Merge, schema))
                .await
                .is_ok();
            (emu, ok)
        },
        |mut emu| async move {
            run_elt(&mut emu, &elt_sql("d15", WriteMode::Replace, schema))
                .await
                .unwrap();
            emu
        },
    )
    .await;
    assert!(failed >= 30, "ELT: only {failed} failures failed the run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elt_equals_the_postgresql_target_and_a_failure_at_each_step_leaves_the_previous_tables() {
    elt_equals_postgres(None, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elt_in_a_schema_equals_the_postgresql_target() {
    elt_equals_postgres(Some("sparkify"), false).await;
}

// ---------------------------------------------------------------------------------------------
// COPY fails where Redshift's COPY fails, and the tables stay as they were
// ---------------------------------------------------------------------------------------------

/// The error of a load that must fail: its message, with the load-error details.
async fn load_error(
    emu: &mut Emulator,
    target: &RedshiftTarget,
    run: &sparkify::sink::s3::LatestRun,
) -> String {
    let e = load_run(emu, target, run, WriteMode::Replace)
        .await
        .expect_err("the load must fail");
    e.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_fails_where_redshift_copy_fails_and_changes_nothing() {
    let Some(world) = World::start().await else {
        return;
    };
    world.database("rs").await;
    let target = target(None);
    let mut emu = world.redshift("rs").await;
    execute(&mut emu, &plan_ddl(&target.sql(), true))
        .await
        .unwrap();
    let (_t, _in, w) = transform(|_| true);
    let run = publish(&world, &target, &w, "run-1").await;
    let empty = tables(emu.reader(), None).await;
    let object = |url: &str| {
        let (bucket, key) = url.strip_prefix("s3://").unwrap().split_once('/').unwrap();
        world.s3.path_of(bucket, key)
    };
    let users_manifest = object(&run.table("users").unwrap().manifest_url);
    let manifest_text = std::fs::read_to_string(&users_manifest).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest_text).unwrap();
    let first_file = manifest["entries"][0]["url"].as_str().unwrap().to_owned();
    let admin = pg_client(&world.pg.url_for("rs")).await;

    // meta.content_length must be the object's size.
    let mut wrong = manifest.clone();
    let n = wrong["entries"][0]["meta"]["content_length"]
        .as_u64()
        .unwrap();
    wrong["entries"][0]["meta"]["content_length"] = (n + 1).into();
    std::fs::write(&users_manifest, wrong.to_string()).unwrap();
    let e = load_error(&mut emu, &target, &run).await;
    assert!(
        e.contains("content_length") && e.contains("COPY into users"),
        "{e}"
    );
    std::fs::write(&users_manifest, &manifest_text).unwrap();

    // A mandatory entry whose object is gone.
    let parquet = object(&first_file);
    let bytes = std::fs::read(&parquet).unwrap();
    std::fs::remove_file(&parquet).unwrap();
    let e = load_error(&mut emu, &target, &run).await;
    assert!(e.contains("File not found"), "{e}");
    std::fs::write(&parquet, &bytes).unwrap();

    // A Parquet file of another table (songs, 5 columns) listed for users (6): a Spectrum error,
    // which the loader reports with the rows of the load-error views.
    let songs_manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(object(&run.table("songs").unwrap().manifest_url)).unwrap(),
    )
    .unwrap();
    let songs_file = object(songs_manifest["entries"][0]["url"].as_str().unwrap());
    let songs_bytes = std::fs::read(&songs_file).unwrap();
    std::fs::write(&parquet, &songs_bytes).unwrap();
    let mut swapped = manifest.clone();
    swapped["entries"][0]["meta"]["content_length"] = songs_bytes.len().into();
    std::fs::write(&users_manifest, swapped.to_string()).unwrap();
    let e = load_error(&mut emu, &target, &run).await;
    assert!(
        e.contains("Unmatched number of columns") && e.contains("load errors: ["),
        "the error and the load-error details: {e}"
    );
    std::fs::write(&parquet, &bytes).unwrap();
    std::fs::write(&users_manifest, &manifest_text).unwrap();

    // Tables of another shape: the loader's shape check stops it before any COPY, and the COPY
    // itself, sent anyway, fails as Redshift's does.
    let copy_into = |table: usize, options: &str| {
        let t = TABLES[table];
        let url = &run.table(t.name).unwrap().manifest_url;
        format!(
            "COPY {} ({}) FROM '{url}' IAM_ROLE '{ARN}' FORMAT AS PARQUET MANIFEST {options};",
            t.name,
            t.column_list()
        )
    };
    for (change, undo, table, copy_error) in [
        // The Parquet INT32 user_id into a BIGINT column (an older table).
        (
            "ALTER TABLE users ALTER COLUMN user_id TYPE BIGINT",
            "ALTER TABLE users ALTER COLUMN user_id TYPE INTEGER",
            0,
            "incompatible Parquet schema",
        ),
        // A string longer than its VARCHAR in bytes (no TRUNCATECOLUMNS for Parquet).
        (
            "ALTER TABLE songs ALTER COLUMN title TYPE VARCHAR(8)",
            "ALTER TABLE songs ALTER COLUMN title TYPE VARCHAR(512)",
            1,
            "longer than the length defined in the table",
        ),
        // A table without a column the COPY lists (users before level_at).
        (
            "ALTER TABLE users RENAME COLUMN level_at TO level_since",
            "ALTER TABLE users RENAME COLUMN level_since TO level_at",
            0,
            "column \"level_at\" of relation \"users\" does not exist",
        ),
    ] {
        admin.batch_execute(change).await.unwrap();
        let e = load_error(&mut emu, &target, &run).await;
        assert!(
            e.contains("is not shaped as sparkify loads it"),
            "{change}: {e}"
        );
        let e = emu.run(&copy_into(table, "")).await.unwrap_err();
        assert!(e.message.contains(copy_error), "{change}: {e}");
        admin.batch_execute(undo).await.unwrap();
    }

    // The staging bucket in another region than the cluster's.
    emu.bucket_regions
        .push(("staging".into(), "eu-west-1".into()));
    let e = load_error(&mut emu, &target, &run).await;
    assert!(e.contains("PermanentRedirect"), "{e}");
    emu.bucket_regions.retain(|(bucket, _)| bucket != "staging");

    // Nothing of this changed a table.
    assert!(tables(emu.reader(), None).await == empty);

    // Statements the loader does not send, as Redshift answers them.
    let url = &run.table("users").unwrap().manifest_url;
    let e = emu
        .run(&copy_into(0, "REGION 'us-east-1'"))
        .await
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("0A000"), "{e}");
    assert!(
        e.message
            .contains("REGION argument is not supported for PARQUET based COPY"),
        "{e}"
    );
    let e = emu
        .run(&format!(
            "COPY users FROM '{url}' IAM_ROLE 'arn:aws:iam::1:role/x' FORMAT AS PARQUET MANIFEST;"
        ))
        .await
        .unwrap_err();
    assert!(e.message.contains("IAM_ROLE"), "{e}");
    admin
        .batch_execute("ALTER TABLE users ADD COLUMN extra INTEGER")
        .await
        .unwrap();
    let e = emu
        .run(&format!(
            "COPY users FROM '{url}' IAM_ROLE '{ARN}' FORMAT AS PARQUET MANIFEST;"
        ))
        .await
        .unwrap_err();
    assert!(e.message.contains("Unmatched number of columns"), "{e}");
    // A Parquet COPY's errors are Spectrum's: in svl_s3log, not in stl_load_errors.
    let s3log = emu
        .run("SELECT trim(message) FROM svl_s3log WHERE query = pg_last_copy_id();")
        .await
        .unwrap();
    assert_eq!(s3log.rows.len(), 1, "{s3log:?}");
    assert!(s3log
        .scalar()
        .unwrap()
        .contains("Unmatched number of columns"));
    let stl = emu
        .run("SELECT err_code FROM stl_load_errors WHERE query = pg_last_copy_id();")
        .await
        .unwrap();
    assert!(stl.rows.is_empty(), "{stl:?}");
    // Serverless has no SVL views: the same error is read from sys_external_query_error, matched
    // to this session through sys_query_history, naming the file.
    let external = emu
        .run(sparkify::warehouse::sql::load_error_queries()[3])
        .await
        .unwrap();
    // Newest first: this COPY's file, after the session's earlier failed COPYs.
    let file = external.rows[0][0].as_deref().unwrap_or_default();
    assert!(
        file.starts_with("s3://") && file.ends_with("/users/part-00000.parquet"),
        "{external:?}"
    );
    admin
        .batch_execute("ALTER TABLE users DROP COLUMN extra")
        .await
        .unwrap();

    // The same run, intact, loads; pg_last_copy_count() answers each COPY's rows.
    let loaded = load_run(&mut emu, &target, &run, WriteMode::Replace)
        .await
        .unwrap();
    let rows = parquet_rows(&w).unwrap();
    for t in &loaded.report.tables {
        assert_eq!(t.inserted, rows[t.table], "{}", t.table);
    }
    emu.run("BEGIN;").await.unwrap();
    emu.run(&copy_into(0, "")).await.unwrap();
    let count = emu.run("SELECT pg_last_copy_count();").await.unwrap();
    assert_eq!(count.scalar(), Some(rows["users"].to_string().as_str()));
    emu.run("ROLLBACK;").await.unwrap();
    assert!(tables(emu.reader(), None).await == tables(&admin, None).await);
    assert_eq!(tables(&admin, None).await[0].1.len() as u64, rows["users"]);

    // The catalog views a table-shape check reads answer the table's columns, in order.
    let svv = emu
        .run(
            "SELECT column_name, data_type, character_maximum_length FROM svv_columns \
             WHERE table_schema = 'public' AND table_name = 'songs' ORDER BY ordinal_position;",
        )
        .await
        .unwrap();
    let names: Vec<&str> = svv.rows.iter().filter_map(|r| r[0].as_deref()).collect();
    assert_eq!(names.join(", "), TABLES[1].column_list());
    assert_eq!(svv.rows[1][1].as_deref(), Some("character varying"));
    let def = emu
        .run("SELECT \"column\", type FROM pg_table_def WHERE tablename = 'users';")
        .await
        .unwrap();
    assert_eq!(def.rows.len(), TABLES[0].columns.len());
    assert!(def
        .rows
        .iter()
        .any(|r| r[1].as_deref() == Some("timestamp without time zone")));

    // JSON COPY: a string longer than its column fails the record (error 1204 in
    // stl_load_errors) unless TRUNCATECOLUMNS cuts it; the bucket's REGION must be named.
    world.s3.create_bucket("udacity-dend");
    upload(&world.s3, "udacity-dend", "in", &sample().join("song_data"));
    emu.run("CREATE TEMP TABLE narrow (song_id VARCHAR(32), title VARCHAR(4));")
        .await
        .unwrap();
    let json = |options: &str| {
        format!(
            "COPY narrow FROM 's3://udacity-dend/in/' IAM_ROLE '{ARN}' FORMAT AS JSON 'auto' \
             {options} MAXERROR 0;"
        )
    };
    let e = emu.run(&json("REGION 'us-west-2'")).await.unwrap_err();
    assert!(e.message.contains("Check 'stl_load_errors'"), "{e}");
    let stl = emu
        .run("SELECT err_code, trim(colname) FROM stl_load_errors WHERE query = pg_last_copy_id();")
        .await
        .unwrap();
    assert!(!stl.rows.is_empty());
    assert!(stl
        .rows
        .iter()
        .all(|r| r[0].as_deref() == Some("1204") && r[1].as_deref() == Some("title")));
    let e = emu.run(&json("TRUNCATECOLUMNS")).await.unwrap_err();
    assert!(e.message.contains("PermanentRedirect"), "{e}");
    let loaded = emu
        .run(&json("REGION 'us-west-2' TRUNCATECOLUMNS"))
        .await
        .unwrap();
    assert_eq!(loaded.affected, 71);
    let longest = emu
        .run("SELECT MAX(OCTET_LENGTH(title)), COUNT(DISTINCT song_id) FROM narrow;")
        .await
        .unwrap();
    assert_eq!(longest.rows[0], [Some("4".into()), Some("71".into())]);

    // TIMEFORMAT 'epochmillisecs' reads the events' numeric ts as times; without it a number
    // does not load into a TIMESTAMP (error 1206).
    upload(
        &world.s3,
        "udacity-dend",
        "logs",
        &sample().join("log_data"),
    );
    let events: usize = std::fs::read_dir(sample().join("log_data/2018/11"))
        .unwrap()
        .map(|f| {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
            text.lines().filter(|l| !l.trim().is_empty()).count()
        })
        .sum();
    emu.run("CREATE TEMP TABLE times (ts TIMESTAMP, page VARCHAR(16));")
        .await
        .unwrap();
    let times = |options: &str| {
        format!(
            "COPY times FROM 's3://udacity-dend/logs/' IAM_ROLE '{ARN}' FORMAT AS JSON 'auto' \
             REGION 'us-west-2' {options};"
        )
    };
    let e = emu.run(&times("")).await.unwrap_err();
    assert!(e.message.contains("Check 'stl_load_errors'"), "{e}");
    let loaded = emu
        .run(&times("TIMEFORMAT 'epochmillisecs'"))
        .await
        .unwrap();
    assert_eq!(loaded.affected as usize, events);
    let outside = emu
        .run(
            "SELECT COUNT(*) FROM times WHERE ts < '2018-11-01' OR ts >= '2018-12-01' \
             OR ts IS NULL;",
        )
        .await
        .unwrap();
    assert_eq!(outside.scalar(), Some("0"));
}
