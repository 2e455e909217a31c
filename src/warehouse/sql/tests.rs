//! The golden tests: every template rendered for every table, compared with `tests/golden/`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::load::{RANGE_COLUMNS, VERSION_COLUMNS};
use super::*;
use crate::schema::{ColumnType, SONGPLAYS, USERS};

#[test]
fn version_columns_exist_as_timestamps() {
    for (t, c) in VERSION_COLUMNS {
        let table = Table::by_name(t).expect("table");
        let col = table.columns.iter().find(|x| x.name == *c).expect("column");
        assert_eq!(col.ty, ColumnType::Timestamp);
        assert!(!col.nullable);
    }
    assert_eq!(version_column(&USERS), Some("level_at"));
    for (t, c) in RANGE_COLUMNS {
        let table = Table::by_name(t).expect("table");
        let col = table.columns.iter().find(|x| x.name == *c).expect("column");
        assert_eq!(col.ty, ColumnType::Timestamp);
        assert!(!col.nullable);
    }
}

/// The range the golden window replace renders: 2018-11-05, one day.
fn golden_range() -> WriteMode {
    WriteMode::ReplaceWindow(StartRange::new(1_541_376_000_000, 1_541_462_400_000).unwrap())
}

#[test]
fn a_window_replace_clears_the_event_tables_by_range_and_merges_the_rest() {
    let sql = Sql::new(Dialect::Postgres, None);
    let mode = golden_range();
    let s = sql.load_statements(&SONGPLAYS, mode);
    assert_eq!(
        s.delete,
        "DELETE FROM songplays\nWHERE start_time >= TIMESTAMP '2018-11-05 00:00:00.000'\n  \
         AND start_time < TIMESTAMP '2018-11-06 00:00:00.000';\n"
    );
    assert!(s.insert.ends_with(
        "WHERE stage_songplays.start_time >= TIMESTAMP '2018-11-05 00:00:00.000'\n  \
         AND stage_songplays.start_time < TIMESTAMP '2018-11-06 00:00:00.000';\n"
    ));
    assert_eq!(
        sql.load_statements(&USERS, mode),
        sql.load_statements(&USERS, WriteMode::Merge)
    );
    assert!(mode.clears(&SONGPLAYS) && !mode.clears(&USERS));
    assert!(StartRange::new(5, 5).is_err());
    assert!(StartRange::new(i64::MIN, 5).is_err());
}

#[test]
fn schema_qualifies_targets_not_stages() {
    let sql = Sql::new(Dialect::Postgres, Some(Ident::new("dwh").unwrap()));
    let s = sql.load_statements(&USERS, WriteMode::Merge);
    assert!(s
        .delete
        .starts_with("DELETE FROM dwh.users\nUSING stage_users\n"));
    assert!(s
        .create_stage
        .contains("(LIKE dwh.users INCLUDING DEFAULTS)"));
    assert_eq!(
        sql.create_schema().as_deref(),
        Some("CREATE SCHEMA IF NOT EXISTS dwh;\n")
    );
}

/// The statements of one table's load, as the dialect's loader runs them. Redshift's COPY
/// literals are fixed examples.
fn load_script(sql: &Sql, table: &Table, mode: WriteMode) -> String {
    match sql.dialect() {
        Dialect::Postgres => sql.load_statements(table, mode).all().join("\n"),
        Dialect::Redshift => {
            let manifest = S3Url::new(&format!(
                "s3://sparkify-staging/dwh/runs/RUN_ID/{}.manifest",
                table.name
            ))
            .unwrap();
            let role = IamRole::new("arn:aws:iam::123456789012:role/sparkify-redshift").unwrap();
            sql.redshift_load(table, mode, &manifest, &role)
                .all()
                .join("\n")
        }
    }
}

/// Every rendered script, by golden file name.
fn golden_scripts(dialect: Dialect) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let sql = Sql::new(dialect, None);
    out.insert("create_tables.sql".into(), sql.create_tables().join("\n"));
    out.insert("drop_tables.sql".into(), sql.drop_tables().join(""));
    for mode in [WriteMode::Replace, WriteMode::Merge, golden_range()] {
        for t in TABLES {
            out.insert(format!("{mode}_{}.sql", t.name), load_script(&sql, t, mode));
        }
    }
    let in_schema = Sql::new(dialect, Some(Ident::new("sparkify").unwrap()));
    out.insert(
        "in_schema_create_tables.sql".into(),
        in_schema.create_tables().join("\n"),
    );
    out.insert(
        "in_schema_merge_users.sql".into(),
        load_script(&in_schema, &USERS, WriteMode::Merge),
    );
    out
}

#[test]
fn parquet_copy_has_only_supported_options() {
    let sql = Sql::new(Dialect::Redshift, None);
    let manifest = S3Url::new("s3://bkt/p/runs/r/songs.manifest").unwrap();
    let role = IamRole::new("arn:aws:iam::123456789012:role/r").unwrap();
    for mode in [WriteMode::Replace, WriteMode::Merge, golden_range()] {
        for t in TABLES {
            let copy = sql.redshift_load(t, mode, &manifest, &role).copy;
            assert!(copy.contains("FORMAT AS PARQUET\nMANIFEST;"), "{copy}");
            for banned in [
                "REGION",
                "MAXERROR",
                "TRUNCATECOLUMNS",
                "COMPUPDATE",
                "FORMAT",
                "TIMEFORMAT",
                "DATEFORMAT",
            ] {
                let n = copy.matches(banned).count();
                let allowed = usize::from(banned == "FORMAT");
                assert_eq!(n, allowed, "{banned} in {copy}");
            }
            let load = sql.redshift_load(t, mode, &manifest, &role);
            for s in load.all() {
                assert!(!s.contains("TRUNCATE") && !s.contains("APPEND"), "{s}");
            }
        }
    }
}

#[test]
fn no_placeholder_left() {
    for d in [Dialect::Postgres, Dialect::Redshift] {
        for (name, text) in golden_scripts(d) {
            assert!(
                !text.contains('{') && !text.contains('}'),
                "{d}/{name}:\n{text}"
            );
        }
    }
}

#[test]
fn golden() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut failures = Vec::new();
    for d in [Dialect::Postgres, Dialect::Redshift] {
        let dir = root.join(d.name());
        let scripts = golden_scripts(d);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if name.ends_with(".sql") && !scripts.contains_key(&name) {
                    std::fs::remove_file(&path).unwrap();
                }
            }
            for (name, text) in &scripts {
                std::fs::write(dir.join(name), text).unwrap();
            }
            continue;
        }
        for (name, text) in &scripts {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(expected) if &expected == text => {}
                Ok(expected) => failures.push(format!(
                    "{}: differs\n--- expected\n{expected}\n--- rendered\n{text}",
                    path.display()
                )),
                Err(e) => failures.push(format!("{}: {e}", path.display())),
            }
        }
        let on_disk = std::fs::read_dir(&dir).map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql") && !scripts.contains_key(n))
                .collect::<Vec<_>>()
        });
        if let Ok(stale) = on_disk {
            for n in stale {
                failures.push(format!("{}/{n}: stale golden file", dir.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden SQL mismatch (rerun with UPDATE_GOLDEN=1 after checking the change):\n{}",
        failures.join("\n")
    );
}
