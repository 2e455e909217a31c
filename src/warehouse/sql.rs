//! SQL rendered from the one schema definition in [`crate::schema`].
//!
//! Statement templates live as plain files under `sql/postgres/*.sql`, with `sql/redshift/*.sql`
//! overriding the few that differ. They are compiled in with `include_str!` and filled in with
//! nothing but validated identifiers ([`Ident`]), column lists derived from [`Table`] and, for
//! Redshift's `COPY` (which takes no bind parameters), validated and quoted literals ([`S3Url`],
//! [`IamRole`]), so no unchecked text ever reaches a statement. Placeholders are written `{name}`.
//!
//! The golden tests at the bottom render every template for every table and compare the result
//! with the files under `tests/golden/<dialect>/`; run them with `UPDATE_GOLDEN=1` to regenerate.

use std::fmt;

pub use super::literal::{IamRole, Ident, InvalidIdentifier, InvalidLiteral, S3Url};
use super::session::SessionSettings;
use super::template::render;
use crate::schema::{Table, TABLES};

/// The SQL dialect a statement is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL 12 or newer.
    Postgres,
    /// Amazon Redshift.
    Redshift,
}

impl Dialect {
    /// The dialect's folder name under `sql/` and `tests/golden/`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Redshift => "redshift",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a load combines the staged rows with what the warehouse already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteMode {
    /// Every loaded table ends up holding exactly the staged rows.
    Replace,
    /// Staged rows are upserted by primary key; rows not staged are kept. For a table with a version
    /// column (`users.level_at`) the newer row wins, whichever side it is on.
    Merge,
}

impl fmt::Display for WriteMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WriteMode::Replace => "replace",
            WriteMode::Merge => "merge",
        })
    }
}

/// Tables whose merge keeps the newer row by a timestamp column instead of always taking the staged
/// row: a user's `level` comes from their latest event, so loading days out of order must not let
/// an older day overwrite a newer level.
const VERSION_COLUMNS: &[(&str, &str)] = &[("users", "level_at")];

/// The column that decides which of two rows with the same key is newer, if the table has one.
pub fn version_column(table: &Table) -> Option<&'static str> {
    VERSION_COLUMNS
        .iter()
        .find(|(t, _)| *t == table.name)
        .map(|(_, c)| *c)
}

/// Redshift table attributes (distribution and sort keys).
///
/// The analytic queries join `songplays` to all four dimensions.
/// - `users`, `songs` and `artists` are small (thousands to a few million rows) and change slowly:
///   `DISTSTYLE ALL` puts a full copy on every node, so joins to them never move data.
/// - `time` is *not* small: it has one row per distinct `songplays.start_time`, i.e. about as many
///   rows as the fact table, so a copy per node would multiply the biggest dimension by the node
///   count. Instead `time` and `songplays` are both distributed by `start_time`: their join is
///   collocated, and `start_time` (millisecond event times) is nearly unique, so hashing it spreads
///   rows evenly over the slices.
/// - `song_id` would be a poor fact distribution key: most events match no song, and all their NULL
///   `song_id`s would land on one slice. `user_id` has only as many values as users (97 in the
///   sample) and skews with heavy listeners. With every other dimension `ALL`, nothing is gained
///   from either.
/// - `SORTKEY (start_time)` on both lets time-range queries (one day, one month) skip blocks via
///   zone maps, and appends of new log days arrive already in sort order.
fn redshift_table_attributes(table: &Table) -> &'static str {
    match table.name {
        "time" | "songplays" => "DISTSTYLE KEY DISTKEY (start_time) SORTKEY (start_time)",
        _ => "DISTSTYLE ALL",
    }
}

mod templates {
    pub const CREATE_SCHEMA: &str = include_str!("../../sql/postgres/create_schema.sql");
    pub const SEARCH_PATH: &str = include_str!("../../sql/postgres/search_path.sql");
    pub const CREATE_TABLE: &str = include_str!("../../sql/postgres/create_table.sql");
    pub const DROP_TABLE: &str = include_str!("../../sql/postgres/drop_table.sql");
    pub const LOCK_TABLE: &str = include_str!("../../sql/postgres/lock_table.sql");
    pub const CREATE_STAGE: &str = include_str!("../../sql/postgres/create_stage.sql");
    pub const COPY_STAGE: &str = include_str!("../../sql/postgres/copy_stage.sql");
    pub const COUNT_STAGE: &str = include_str!("../../sql/postgres/count_stage.sql");
    pub const ANALYZE_STAGE: &str = include_str!("../../sql/postgres/analyze_stage.sql");
    pub const DELETE_ALL: &str = include_str!("../../sql/postgres/delete_all.sql");
    pub const DELETE_MATCHING: &str = include_str!("../../sql/postgres/delete_matching.sql");
    pub const DELETE_OLDER: &str = include_str!("../../sql/postgres/delete_older.sql");
    pub const INSERT_ALL: &str = include_str!("../../sql/postgres/insert_all.sql");
    pub const INSERT_MISSING: &str = include_str!("../../sql/postgres/insert_missing.sql");

    pub const RS_CREATE_TABLE: &str = include_str!("../../sql/redshift/create_table.sql");
    pub const RS_LOCK_TABLE: &str = include_str!("../../sql/redshift/lock_table.sql");
    pub const RS_CREATE_STAGE: &str = include_str!("../../sql/redshift/create_stage.sql");
    pub const RS_DROP_STAGE: &str = include_str!("../../sql/redshift/drop_stage.sql");
    pub const RS_COPY_PARQUET: &str = include_str!("../../sql/redshift/copy_parquet.sql");
    pub const RS_LAST_COPY_COUNT: &str = include_str!("../../sql/redshift/last_copy_count.sql");
    pub const RS_LOAD_ERRORS: &str = include_str!("../../sql/redshift/load_errors.sql");
    pub const RS_STL_LOAD_ERRORS: &str = include_str!("../../sql/redshift/stl_load_errors.sql");
    pub const RS_S3_LOG: &str = include_str!("../../sql/redshift/s3_log.sql");
    pub const RS_EXTERNAL_QUERY_ERRORS: &str =
        include_str!("../../sql/redshift/external_query_errors.sql");
}

/// The statements one load runs for one table, in order. Each is a single statement ending in `;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadStatements {
    /// Locks the target against concurrent writers for the rest of the transaction. PostgreSQL's
    /// lock lets readers go on; Redshift's `LOCK` makes them wait for the transaction too.
    pub lock: String,
    /// Creates the temporary stage table shaped like the target.
    pub create_stage: String,
    /// `COPY … FROM STDIN (FORMAT binary)` into the stage (PostgreSQL only: Redshift copies from S3).
    pub copy: Option<String>,
    /// Counts the staged rows.
    pub count_stage: String,
    /// Gathers planner statistics on the stage, so the delete and insert joins get good plans.
    pub analyze_stage: String,
    /// Removes the target rows the staged rows replace.
    pub delete: String,
    /// Inserts the staged rows that should be in the target.
    pub insert: String,
}

impl LoadStatements {
    /// All statements in execution order.
    pub fn all(&self) -> Vec<&str> {
        let mut v = vec![self.lock.as_str(), &self.create_stage];
        v.extend(self.copy.as_deref());
        v.push(&self.count_stage);
        v.push(&self.analyze_stage);
        v.push(&self.delete);
        v.push(&self.insert);
        v
    }
}

/// The statements a Redshift load runs for one table (see [`Sql::redshift_load`]).
///
/// A merge copies into a temporary stage table before the transaction, then deletes and inserts
/// inside it; a replace deletes every row and copies straight into the table inside the
/// transaction. Each string is a single statement ending in `;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedshiftLoad {
    /// Merge only, before the transaction: creates the stage `(LIKE target)`. There is no
    /// `DROP TABLE IF EXISTS` ahead of it: with no temporary table of that name in the session, it
    /// would drop a permanent table of the same name.
    pub create_stage: Option<String>,
    /// Locks the target at the start of the transaction.
    pub lock: String,
    /// Replace: `DELETE FROM target` ahead of the COPY. Merge: deletes the target rows that staged
    /// rows replace (for `users`, only those not newer than the staged row).
    pub delete: String,
    /// `COPY … FROM '<manifest>' IAM_ROLE '<arn>' FORMAT AS PARQUET MANIFEST`, into the stage
    /// (merge) or straight into the target (replace).
    pub copy: String,
    /// `SELECT pg_last_copy_count();`: the rows the COPY loaded, checked against the rows written.
    pub copy_count: String,
    /// Merge only: inserts the staged rows that belong in the target.
    pub insert: Option<String>,
    /// Merge only, once the load is over (committed or not): drops the stage this session
    /// created, which shadows any permanent table of that name.
    pub drop_stage: Option<String>,
}

impl RedshiftLoad {
    /// The table's statements in the order a load of this table alone would run them.
    pub fn all(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.create_stage.iter().map(String::as_str).collect();
        if self.insert.is_some() {
            v.extend([
                self.copy.as_str(),
                &self.copy_count,
                &self.lock,
                &self.delete,
            ]);
        } else {
            v.extend([
                self.lock.as_str(),
                &self.delete,
                &self.copy,
                &self.copy_count,
            ]);
        }
        v.extend(self.insert.as_deref());
        v.extend(self.drop_stage.as_deref());
        v
    }
}

/// The queries that explain a failed Redshift COPY of this session (by `pg_backend_pid()`, which
/// a `ROLLBACK` leaves in place, unlike `pg_last_copy_id()`), newest rows first: the
/// `sys_load_error_detail` view, the older `stl_load_errors` table, then `svl_s3log` and
/// `sys_external_query_error` (Serverless has only the SYS views), where Parquet (Spectrum) read
/// errors go. All return rows of (file, line, column, column type, error code, message).
pub fn load_error_queries() -> [&'static str; 4] {
    [
        templates::RS_LOAD_ERRORS,
        templates::RS_STL_LOAD_ERRORS,
        templates::RS_S3_LOG,
        templates::RS_EXTERNAL_QUERY_ERRORS,
    ]
}

/// Renders statements for one dialect and an optional schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sql {
    dialect: Dialect,
    schema: Option<Ident>,
    /// `SET` statements a session starts with (time limits); empty from [`Sql::new`].
    setup: Vec<String>,
}

impl Sql {
    /// A renderer for `dialect`; tables are qualified with `schema` when given.
    pub fn new(dialect: Dialect, schema: Option<Ident>) -> Sql {
        Sql {
            dialect,
            schema,
            setup: Vec::new(),
        }
    }

    /// A renderer for `dialect` with the schema and time limits of `session`: plans start with
    /// its `SET` statements.
    pub fn for_session(dialect: Dialect, session: &SessionSettings) -> Sql {
        Sql {
            dialect,
            schema: session.schema.clone(),
            setup: session.set_statements(dialect),
        }
    }

    /// The `SET` statements a session starts with (none for [`Sql::new`]).
    pub fn setup(&self) -> &[String] {
        &self.setup
    }

    /// `SET search_path TO <schema>` when a schema is set: unqualified names in analytics and
    /// ad-hoc queries then resolve in that schema only, never in `public`.
    pub fn search_path(&self) -> Option<String> {
        self.schema
            .as_ref()
            .map(|s| render(templates::SEARCH_PATH, &[("schema", s.as_str())]))
    }

    /// The dialect rendered for.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The schema tables are qualified with, if any.
    pub fn schema(&self) -> Option<&Ident> {
        self.schema.as_ref()
    }

    /// The table name as written in statements: `schema.table` or `table`.
    pub fn qualified(&self, table: &Table) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", table.name),
            None => table.name.to_owned(),
        }
    }

    /// The name of a table's temporary stage table (unqualified: temporary tables live in the
    /// session's own schema, which is searched first).
    pub fn stage_name(table: &Table) -> String {
        format!("stage_{}", table.name)
    }

    fn vars(&self, table: &Table) -> Vars {
        let qualified = self.qualified(table);
        let stage = Sql::stage_name(table);
        let key_match = table
            .key()
            .iter()
            .map(|c| format!("{t}.{n} = {stage}.{n}", t = table.name, n = c.name))
            .collect::<Vec<_>>()
            .join("\n  AND ");
        let stage_columns = table
            .columns
            .iter()
            .map(|c| format!("{stage}.{}", c.name))
            .collect::<Vec<_>>()
            .join(", ");
        // Both dialects spell the schema's types the same way. PostgreSQL's VARCHAR(n) counts
        // characters where Redshift counts bytes; as n bytes never exceed n characters, values cut
        // to Redshift's widths always fit PostgreSQL too.
        let column_defs = table
            .columns
            .iter()
            .map(|c| {
                let null = if c.nullable { "" } else { " NOT NULL" };
                format!("    {} {}{null}", c.name, c.ty.sql_type())
            })
            .collect::<Vec<_>>()
            .join(",\n");
        let key_columns = table
            .key()
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ");
        Vars {
            schema: self
                .schema
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            name: table.name,
            table: qualified,
            stage,
            columns: table.column_list(),
            stage_columns,
            column_defs,
            key_columns,
            key_match,
            version: version_column(table).unwrap_or_default().to_owned(),
            table_attributes: match self.dialect {
                Dialect::Postgres => String::new(),
                Dialect::Redshift => redshift_table_attributes(table).to_owned(),
            },
        }
    }

    fn fill(&self, template: &str, table: &Table) -> String {
        self.vars(table).fill(template)
    }

    /// `CREATE SCHEMA IF NOT EXISTS`, when a schema is set.
    pub fn create_schema(&self) -> Option<String> {
        self.schema
            .as_ref()
            .map(|s| render(templates::CREATE_SCHEMA, &[("schema", s.as_str())]))
    }

    /// `CREATE TABLE IF NOT EXISTS` with primary key (and Redshift distribution and sort keys).
    pub fn create_table(&self, table: &Table) -> String {
        let template = match self.dialect {
            Dialect::Postgres => templates::CREATE_TABLE,
            Dialect::Redshift => templates::RS_CREATE_TABLE,
        };
        self.fill(template, table)
    }

    /// The schema (if set) and every table, dimensions first.
    pub fn create_tables(&self) -> Vec<String> {
        let mut v: Vec<String> = self.create_schema().into_iter().collect();
        v.extend(TABLES.iter().map(|t| self.create_table(t)));
        v
    }

    /// One `LOCK` of every table in `tables`, taken at the start of a transaction.
    pub fn lock_tables(&self, tables: &[&Table]) -> String {
        let names: Vec<String> = tables.iter().map(|t| self.qualified(t)).collect();
        let template = match self.dialect {
            Dialect::Postgres => templates::LOCK_TABLE,
            Dialect::Redshift => templates::RS_LOCK_TABLE,
        };
        render(template, &[("table", &names.join(", "))])
    }

    /// `DROP TABLE IF EXISTS`.
    pub fn drop_table(&self, table: &Table) -> String {
        self.fill(templates::DROP_TABLE, table)
    }

    /// Every table, the fact table first. The schema itself is left alone.
    pub fn drop_tables(&self) -> Vec<String> {
        TABLES.iter().rev().map(|t| self.drop_table(t)).collect()
    }

    /// The statements a load runs for `table` in `mode`.
    pub fn load_statements(&self, table: &Table, mode: WriteMode) -> LoadStatements {
        let (lock, create_stage) = match self.dialect {
            Dialect::Postgres => (templates::LOCK_TABLE, templates::CREATE_STAGE),
            Dialect::Redshift => (templates::RS_LOCK_TABLE, templates::RS_CREATE_STAGE),
        };
        let (delete, insert) = match (mode, version_column(table)) {
            (WriteMode::Replace, _) => (templates::DELETE_ALL, templates::INSERT_ALL),
            (WriteMode::Merge, None) => (templates::DELETE_MATCHING, templates::INSERT_ALL),
            // Delete the target rows that are older than (or as old as) their staged row, then
            // insert the staged rows whose key is no longer present: those are the new keys and
            // the newer rows. A target row newer than its staged row survives the delete and
            // blocks the older staged row from being inserted.
            (WriteMode::Merge, Some(_)) => (templates::DELETE_OLDER, templates::INSERT_MISSING),
        };
        let vars = self.vars(table);
        LoadStatements {
            lock: vars.fill(lock),
            create_stage: vars.fill(create_stage),
            copy: match self.dialect {
                Dialect::Postgres => Some(vars.fill(templates::COPY_STAGE)),
                Dialect::Redshift => None,
            },
            count_stage: vars.fill(templates::COUNT_STAGE),
            analyze_stage: vars.fill(templates::ANALYZE_STAGE),
            delete: vars.fill(delete),
            insert: vars.fill(insert),
        }
    }
}

impl Sql {
    /// The statements loading `table` into Redshift in `mode` from the Parquet files listed in
    /// `manifest`, read with `role`. Always rendered for Redshift, whatever the dialect of `self`.
    pub fn redshift_load(
        &self,
        table: &Table,
        mode: WriteMode,
        manifest: &S3Url,
        role: &IamRole,
    ) -> RedshiftLoad {
        let rs = Sql::new(Dialect::Redshift, self.schema.clone());
        let s = rs.load_statements(table, mode);
        let vars = rs.vars(table);
        let copy_into = |into: &str| {
            render(
                templates::RS_COPY_PARQUET,
                &[
                    ("into", into),
                    ("columns", &vars.columns),
                    ("manifest", &manifest.literal()),
                    ("iam_role", &role.literal()),
                ],
            )
        };
        let copy_count = templates::RS_LAST_COPY_COUNT.to_owned();
        match mode {
            WriteMode::Replace => RedshiftLoad {
                create_stage: None,
                lock: s.lock,
                delete: s.delete,
                copy: copy_into(&vars.table),
                copy_count,
                insert: None,
                drop_stage: None,
            },
            WriteMode::Merge => RedshiftLoad {
                create_stage: Some(s.create_stage),
                lock: s.lock,
                delete: s.delete,
                copy: copy_into(&vars.stage),
                copy_count,
                insert: Some(s.insert),
                drop_stage: Some(vars.fill(templates::RS_DROP_STAGE)),
            },
        }
    }
}

/// The values a template may refer to.
struct Vars {
    schema: String,
    name: &'static str,
    table: String,
    stage: String,
    columns: String,
    stage_columns: String,
    column_defs: String,
    key_columns: String,
    key_match: String,
    version: String,
    table_attributes: String,
}

impl Vars {
    fn fill(&self, template: &str) -> String {
        render(
            template,
            &[
                ("schema", &self.schema),
                ("name", self.name),
                ("table", &self.table),
                ("stage", &self.stage),
                ("columns", &self.columns),
                ("stage_columns", &self.stage_columns),
                ("column_defs", &self.column_defs),
                ("key_columns", &self.key_columns),
                ("key_match", &self.key_match),
                ("version", &self.version),
                ("table_attributes", &self.table_attributes),
            ],
        )
    }
}

/// Strips the trailing `;` and whitespace, for APIs that take exactly one statement.
pub fn statement_body(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';').trim_end()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::schema::{ColumnType, USERS};

    #[test]
    fn version_columns_exist_as_timestamps() {
        for (t, c) in VERSION_COLUMNS {
            let table = Table::by_name(t).expect("table");
            let col = table.columns.iter().find(|x| x.name == *c).expect("column");
            assert_eq!(col.ty, ColumnType::Timestamp);
            assert!(!col.nullable);
        }
        assert_eq!(version_column(&USERS), Some("level_at"));
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
                let role =
                    IamRole::new("arn:aws:iam::123456789012:role/sparkify-redshift").unwrap();
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
        for mode in [WriteMode::Replace, WriteMode::Merge] {
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
        for mode in [WriteMode::Replace, WriteMode::Merge] {
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
}
