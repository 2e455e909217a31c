//! `--schema` on PostgreSQL: every warehouse command (create-tables, the Parquet load, `--mode elt`,
//! check, query) works in the named schema, and decoy tables of the same names in `public`, each
//! holding one marker row, are never read or written.

mod common;

use std::path::Path;

use common::pg::TestPg;
use common::rows::fetch;
use common::{load_json, sample, sparkify, sparkify_ok};
use sparkify::schema::TABLES;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Rows per table of `schema`, in [`TABLES`] order.
fn counts(pg: &TestPg, db: &str, schema: &str) -> Vec<usize> {
    rt().block_on(async {
        let client = pg.connect_to(db).await;
        let mut out = Vec::new();
        for t in TABLES {
            out.push(
                fetch(&client, &format!("{schema}.{}", t.name), t)
                    .await
                    .len(),
            );
        }
        out
    })
}

fn rows_of(summary: &serde_json::Value) -> Vec<usize> {
    TABLES
        .iter()
        .map(|t| {
            summary["tables"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == t.name)
                .unwrap()["rows"]
                .as_u64()
                .unwrap() as usize
        })
        .collect()
}

/// One marker row in every `public` table: a decoy each command must not see or change.
fn plant_decoys(pg: &TestPg, db: &str, cwd: &Path, url: &str) {
    sparkify_ok(cwd, &["create-tables", "--target", url]);
    rt().block_on(async {
        let client = pg.connect_to(db).await;
        client
            .batch_execute(
                "INSERT INTO public.users VALUES (-1, 'Decoy', 'Decoy', 'F', 'paid', '2018-11-01');
                 INSERT INTO public.artists VALUES ('DECOY', 'Decoy', NULL, NULL, NULL);
                 INSERT INTO public.songs VALUES ('DECOY', 'Decoy', 'DECOY', 2000, 1.0);
                 INSERT INTO public.time VALUES ('2018-11-01', 0, 1, 44, 11, 2018, 4);
                 INSERT INTO public.songplays VALUES
                     (-1, '2018-11-01', -1, 'paid', 'DECOY', 'DECOY', -1, 'Nowhere', 'Decoy');",
            )
            .await
            .unwrap();
    });
}

#[test]
fn every_command_stays_in_its_schema() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let db = "schema_decoy";
    let url = pg.url_for(&rt().block_on(pg.create_database(db)));
    plant_decoys(&pg, db, cwd, &url);
    let decoys = vec![1; TABLES.len()];
    assert_eq!(counts(&pg, db, "public"), decoys);

    // The dry run shows the schema, the time limits and the one LOCK taken first.
    let plan = sparkify_ok(
        cwd,
        &[
            "etl",
            "--mode",
            "elt",
            "--target",
            &url,
            "--schema",
            "dwh",
            "--dry-run",
        ],
    );
    assert!(plan.contains("SET statement_timeout TO 7200000;"), "{plan}");
    assert!(plan.contains("SET lock_timeout TO 300000;"), "{plan}");
    assert!(
        plan.contains(
            "BEGIN;\n\nLOCK TABLE dwh.users, dwh.songs, dwh.artists, dwh.time, dwh.songplays"
        ),
        "{plan}"
    );

    sparkify_ok(cwd, &["create-tables", "--target", &url, "--schema", "dwh"]);
    let elt = load_json(
        cwd,
        &sample(),
        &url,
        "replace",
        &["--mode", "elt", "--schema", "dwh"],
    );
    let expected = rows_of(&elt);
    assert!(expected.iter().all(|n| *n > 0), "{expected:?}");
    assert_eq!(counts(&pg, db, "dwh"), expected);
    assert_eq!(counts(&pg, db, "public"), decoys, "ELT touched public");

    // The Parquet load merges into the same schema: same rows, public untouched.
    let load = load_json(cwd, &sample(), &url, "merge", &["--schema", "dwh"]);
    assert_eq!(rows_of(&load), expected);
    assert_eq!(counts(&pg, db, "dwh"), expected);
    assert_eq!(counts(&pg, db, "public"), decoys, "the load touched public");

    // check reads the schema's tables: the decoys' orphan rows would fail it.
    let summary = cwd.join("summary.json");
    std::fs::write(&summary, elt.to_string()).unwrap();
    let out = sparkify(
        cwd,
        &[
            "check",
            "--target",
            &url,
            "--schema",
            "dwh",
            "--expect-summary",
            summary.to_str().unwrap(),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("35 checks: 35 passed, 0 failed"), "{text}");

    // query and query --sql read the schema's tables, not the decoys.
    let n = sparkify_ok(
        cwd,
        &[
            "query",
            "--target",
            &url,
            "--schema",
            "dwh",
            "--csv",
            "--sql",
            "SELECT COUNT(*) AS n FROM users WHERE user_id = -1",
        ],
    );
    assert_eq!(n, "n\n0\n");
    let top = sparkify_ok(
        cwd,
        &[
            "query",
            "top_songs",
            "--target",
            &url,
            "--schema",
            "dwh",
            "--csv",
        ],
    );
    assert!(!top.contains("Decoy"), "{top}");
    assert!(top.lines().count() > 1, "{top}");

    // Without --schema the same commands see public (the decoys): the flag is what moved them.
    let n = sparkify_ok(
        cwd,
        &[
            "query",
            "--target",
            &url,
            "--csv",
            "--sql",
            "SELECT COUNT(*) AS n FROM users WHERE user_id = -1",
        ],
    );
    assert_eq!(n, "n\n1\n");

    // A reserved word is refused before anything connects, naming the flag.
    let out = sparkify(cwd, &["check", "--target", &url, "--schema", "user"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--schema") && err.contains("reserved word"),
        "{err}"
    );
}

#[test]
fn a_held_lock_fails_the_statement_after_the_lock_timeout() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let db = "lock_wait";
    let url = pg.url_for(&rt().block_on(pg.create_database(db)));
    sparkify_ok(cwd, &["create-tables", "--target", &url]);
    let runtime = rt();
    let holder = runtime.block_on(async {
        let client = pg.connect_to(db).await;
        client
            .batch_execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE;")
            .await
            .unwrap();
        client
    });
    let out = sparkify(cwd, &["check", "--target", &url, "--lock-timeout", "1s"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("lock timeout") && err.contains("55P03"),
        "{err}"
    );
    // A bad value is refused naming the flag, before anything connects.
    let out = sparkify(
        cwd,
        &["check", "--target", &url, "--lock-timeout", "5 days"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--lock-timeout"), "{err}");
    drop(holder);
}

/// Runs sparkify, which must fail with exit 2; its stderr.
fn fails(cwd: &Path, args: &[&str]) -> String {
    let out = sparkify(cwd, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    err
}

#[test]
fn a_table_of_another_shape_stops_every_command_having_changed_nothing() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let db = "old_shapes";
    let url = pg.url_for(&rt().block_on(pg.create_database(db)));
    let exec = |sql: &str| {
        rt().block_on(async {
            let client = pg.connect_to(db).await;
            client
                .batch_execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
    };
    let tables = || -> Vec<String> {
        rt().block_on(async {
            let client = pg.connect_to(db).await;
            client
                .query(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = 'public' ORDER BY 1",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect()
        })
    };
    // An older `users` without level_at, holding one row.
    exec(
        "CREATE TABLE users (user_id INTEGER PRIMARY KEY, first_name VARCHAR(256), \
         last_name VARCHAR(256), gender VARCHAR(16), level VARCHAR(16));
         INSERT INTO users VALUES (1, 'Old', 'Row', 'F', 'free');",
    );
    let wanted = "table users is not shaped as sparkify loads it: column 6 (level_at): found no \
                  column, wanted level_at TIMESTAMP; nothing was changed";
    let input = sample();
    let input = input.to_str().unwrap();
    for args in [
        vec!["create-tables", "--target", &url],
        vec!["etl", "--input", input, "--output", "w1", "--target", &url],
        vec![
            "etl", "--mode", "elt", "--input", input, "--output", "w2", "--target", &url,
        ],
    ] {
        let err = fails(cwd, &args);
        assert!(err.contains(wanted), "{args:?}: {err}");
        assert_eq!(tables(), ["users"], "{args:?} created tables");
    }
    assert_eq!(counts_of(&pg, db, "users"), 1);

    // A songplays from an older Udacity solution: songplay_id SERIAL.
    exec(
        "DROP TABLE users;
         CREATE TABLE songplays (songplay_id SERIAL PRIMARY KEY, start_time TIMESTAMP NOT NULL, \
         user_id INTEGER NOT NULL, level VARCHAR(16), song_id VARCHAR(32), artist_id VARCHAR(32), \
         session_id INTEGER NOT NULL, location VARCHAR(512), user_agent VARCHAR(512));",
    );
    let err = fails(cwd, &["create-tables", "--target", &url]);
    assert!(
        err.contains("table songplays is not shaped as sparkify loads it: column 1 (songplay_id): found songplay_id integer DEFAULT nextval("),
        "{err}"
    );
    assert_eq!(tables(), ["songplays"]);
}

/// Rows of `public.<table>`.
fn counts_of(pg: &TestPg, db: &str, table: &str) -> i64 {
    rt().block_on(async {
        let client = pg.connect_to(db).await;
        client
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0)
    })
}
