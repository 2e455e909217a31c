//! Faults in the middle of a PostgreSQL load: the process killed with SIGKILL, the connection
//! terminated mid-COPY. The previous tables stay intact and a rerun converges on a clean run.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pg::TestPg;
use common::rows::{fetch, Rows};
use common::{sample, sparkify_ok};
use sparkify::schema::TABLES;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn warehouse(pg: &TestPg) -> Vec<Rows> {
    warehouse_in(pg, None)
}

/// Every table of database `db` (the default one when `None`), as sorted rows.
fn warehouse_in(pg: &TestPg, db: Option<&str>) -> Vec<Rows> {
    rt().block_on(async {
        let client = match db {
            Some(db) => pg.connect_to(db).await,
            None => pg.connect().await,
        };
        let mut out = Vec::new();
        for t in TABLES {
            out.push(fetch(&client, t.name, t).await);
        }
        out
    })
}

/// Generated input big enough that its load takes a while.
fn big_input(dir: &Path) {
    sparkify_ok(
        dir,
        &[
            "generate", "--output", "big", "--songs", "3000", "--events", "200000", "--seed", "5",
            "--days", "2",
        ],
    );
}

/// `etl --write replace` from `input` into `output` and the database at `url`; must succeed.
fn etl_replace(cwd: &Path, input: &str, output: &str, url: &str) {
    sparkify_ok(
        cwd,
        &[
            "etl", "--input", input, "--output", output, "--target", url, "--write", "replace",
        ],
    );
}

fn spawn_etl(cwd: &Path, input: &str, url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sparkify"))
        .args([
            "etl", "--input", input, "--output", "w", "--target", url, "--write", "replace", "-q",
        ])
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (bounded) until a COPY into a stage table is running on the server; returns its pid.
fn wait_for_copy(pg: &TestPg, child: &mut Child) -> i32 {
    wait_for_statement(pg, child, "COPY stage_songplays%")
}

/// Waits (bounded) until a statement of the load matching the SQL `LIKE` pattern runs; returns the
/// server pid running it.
fn wait_for_statement(pg: &TestPg, child: &mut Child, like: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(120);
    rt().block_on(async {
        let client = pg.connect().await;
        loop {
            let rows = client
                .query(
                    "SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
                    &[&like],
                )
                .await
                .unwrap();
            if let Some(row) = rows.first() {
                return row.get::<_, i32>(0);
            }
            assert!(child.try_wait().unwrap().is_none(), "etl ended before `{like}` was seen");
            assert!(Instant::now() < deadline, "no `{like}` seen in time");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
}

#[test]
fn sigkill_mid_load_keeps_the_previous_tables_and_the_rerun_converges() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    big_input(tmp.path());
    sparkify_ok(tmp.path(), &["create-tables", "--target", &pg.url()]);
    // The previous state: the sample.
    etl_replace(tmp.path(), sample().to_str().unwrap(), "w0", &pg.url());
    let before = warehouse(&pg);

    let mut child = spawn_etl(tmp.path(), "big", &pg.url());
    wait_for_copy(&pg, &mut child);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(
        warehouse(&pg),
        before,
        "a killed load changed the warehouse"
    );

    etl_replace(tmp.path(), "big", "w", &pg.url());
    let after_rerun = warehouse(&pg);
    let clean_db = pg.url_for(&rt().block_on(pg.create_database("clean")));
    sparkify_ok(tmp.path(), &["create-tables", "--target", &clean_db]);
    etl_replace(tmp.path(), "big", "w2", &clean_db);
    let clean = warehouse_in(&pg, Some("clean"));
    assert_eq!(after_rerun, clean);
    assert!(
        clean[4].len() > 50_000,
        "songplays of the big input were loaded"
    );
}

#[test]
fn connection_terminated_mid_copy_or_before_commit_changes_nothing() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    big_input(tmp.path());
    sparkify_ok(tmp.path(), &["create-tables", "--target", &pg.url()]);
    let before = warehouse(&pg);

    // Mid-COPY, then after the COPYs while the rows move into the final tables (before COMMIT).
    for like in ["COPY stage_songplays%", "INSERT INTO %"] {
        let mut child = spawn_etl(tmp.path(), "big", &pg.url());
        let pid = wait_for_statement(&pg, &mut child, like);
        rt().block_on(async {
            let client = pg.connect().await;
            client
                .execute("SELECT pg_terminate_backend($1)", &[&pid])
                .await
                .unwrap();
        });
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{like}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{like}: {err}");
        assert!(err.starts_with("error: "), "{like}: {err}");
        assert_eq!(warehouse(&pg), before, "{like}");
        assert!(
            !tmp.path().join("w").exists(),
            "a failed load publishes no output"
        );
    }

    etl_replace(tmp.path(), "big", "w", &pg.url());
    assert!(warehouse(&pg)[4].len() > 50_000);
}
