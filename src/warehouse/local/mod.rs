//! The local warehouse: SQL over the Parquet star schema that `sparkify etl` writes, with no server.
//!
//! [`LocalWarehouse::open`] starts an in-process [DataFusion](https://datafusion.apache.org) session
//! and registers each table folder of an output (`<dir>/<table>/part-*.parquet`, all its parts) as
//! a table of that name. The same `sql/analytics/*.sql` and `sql/checks/*.sql` that PostgreSQL and
//! Redshift run then run here, and results come back as [`TextRows`], printed the way PostgreSQL
//! prints them ([`text`]), so `query` and `check` give the same output on every target.
//!
//! The session is read-only: DataFusion's [`SQLOptions`] refuse DDL (`CREATE …`), DML (`INSERT`,
//! `COPY`) and statements (`SET`, `BEGIN`). It sees only the star-schema tables (and
//! `information_schema`, for `SHOW TABLES`): file paths in SQL are not readable as tables.

mod checks;
pub mod text;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::config::Dialect;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};

use super::exec::{first_line, TextRows};
use crate::schema::{Table, TABLES};

/// Errors of the local warehouse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// The output folder does not exist.
    #[error("no star schema in {dir}: the folder does not exist (run `sparkify etl` first, or pass --input DIR)")]
    NoOutput {
        /// The folder.
        dir: String,
    },
    /// A table the statement reads has no folder in the output.
    #[error("table {table} does not exist in {dir} (no folder {dir}/{table}; run `sparkify etl` to write it)")]
    MissingTable {
        /// The table.
        table: String,
        /// The output folder.
        dir: String,
    },
    /// A table folder cannot be listed.
    #[error("cannot read table folder {path}: {source}")]
    Io {
        /// The folder.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// DataFusion refused or failed a statement.
    #[error("local query failed: `{statement}`: {source}")]
    Query {
        /// The statement's first line.
        statement: String,
        /// DataFusion's error.
        #[source]
        source: Box<DataFusionError>,
    },
    /// A count query returned something other than one count (a bug).
    #[error("local query `{statement}` returned {found}, expected one count")]
    Unexpected {
        /// The statement's first line.
        statement: String,
        /// What came back.
        found: String,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// An output folder opened for SQL.
pub struct LocalWarehouse {
    dir: PathBuf,
    ctx: SessionContext,
    present: BTreeSet<&'static str>,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for LocalWarehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalWarehouse")
            .field("dir", &self.dir)
            .field("tables", &self.present)
            .finish()
    }
}

/// What a local statement may do: read. DDL, DML (`INSERT`, `COPY … TO`) and session statements
/// (`SET`, `BEGIN`) are refused before anything runs.
fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// `table`'s columns, all nullable: the checks look for NULL keys, and DataFusion would answer
/// `key IS NULL` with `false` without reading anything if the schema promised none.
fn query_schema(table: &Table) -> SchemaRef {
    let fields: Vec<Field> = table
        .arrow_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// The part files of one table folder (`part-*.parquet`), sorted; `None` when there is no folder.
fn part_files(folder: &Path) -> Result<Option<Vec<PathBuf>>, LocalError> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LocalError::Io {
                path: folder.display().to_string(),
                source,
            })
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| LocalError::Io {
                path: folder.display().to_string(),
                source,
            })?
            .path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.starts_with("part-") && n.ends_with(".parquet")) {
            files.push(path);
        }
    }
    files.sort();
    Ok(Some(files))
}

impl LocalWarehouse {
    /// Opens the star schema in `dir`: every table whose folder exists is registered (a folder
    /// without parts is an empty table); a table without a folder is missing, which
    /// [`Self::query`] reports by name and [`Self::check`] fails, as a server does. A missing
    /// `dir` holds no tables.
    pub fn open(dir: &Path) -> Result<LocalWarehouse, LocalError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(LocalError::Runtime)?;
        let mut config = SessionConfig::new().with_information_schema(true);
        let parser = &mut config.options_mut().sql_parser;
        parser.dialect = Dialect::PostgreSQL;
        // `100.0` is an exact NUMERIC in PostgreSQL and Redshift: the same here, so ROUND(…, 1)
        // of a share stays decimal and prints `82.0`, as they print it, not the double `82`.
        parser.parse_float_as_decimal = true;
        let ctx = SessionContext::new_with_config(config);
        let mut present = BTreeSet::new();
        for table in TABLES {
            let Some(files) = part_files(&dir.join(table.name))? else {
                continue;
            };
            register(&ctx, table, &files).map_err(|e| LocalError::Query {
                statement: format!("register {}", table.name),
                source: Box::new(e),
            })?;
            present.insert(table.name);
        }
        Ok(LocalWarehouse {
            dir: dir.to_path_buf(),
            ctx,
            present,
            runtime,
        })
    }

    /// The output folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether `table` has a folder in the output.
    pub fn has_table(&self, table: &str) -> bool {
        self.present.contains(table)
    }

    /// Runs one read-only statement and returns its rows as PostgreSQL would print them. A
    /// star-schema table the statement reads that has no folder is a [`LocalError::MissingTable`].
    pub fn query(&self, sql: &str) -> Result<TextRows, LocalError> {
        let fail = |e: DataFusionError| LocalError::Query {
            statement: first_line(sql),
            source: Box::new(e),
        };
        self.runtime.block_on(async {
            let state = self.ctx.state();
            let statement = state
                .sql_to_statement(sql, &Dialect::PostgreSQL)
                .map_err(fail)?;
            for reference in state.resolve_table_references(&statement).map_err(fail)? {
                let name = reference.table();
                if Table::by_name(name).is_some() && !self.has_table(name) {
                    if !self.dir.exists() {
                        return Err(LocalError::NoOutput {
                            dir: self.dir.display().to_string(),
                        });
                    }
                    return Err(LocalError::MissingTable {
                        table: name.to_owned(),
                        dir: self.dir.display().to_string(),
                    });
                }
            }
            let plan = state.statement_to_plan(statement).await.map_err(fail)?;
            read_only().verify_plan(&plan).map_err(fail)?;
            let frame = self.ctx.execute_logical_plan(plan).await.map_err(fail)?;
            let schema = frame.schema().inner().clone();
            let batches = frame.collect().await.map_err(fail)?;
            text::rows(&schema, &batches).map_err(|e| fail(e.into()))
        })
    }
}

/// Registers `files` as `table`; no files make an empty table with the table's columns.
fn register(
    ctx: &SessionContext,
    table: &'static Table,
    files: &[PathBuf],
) -> Result<(), DataFusionError> {
    let schema = query_schema(table);
    if files.is_empty() {
        let empty = MemTable::try_new(schema, vec![vec![]])?;
        ctx.register_table(table.name, Arc::new(empty))?;
        return Ok(());
    }
    let urls = files
        .iter()
        .map(|f| ListingTableUrl::parse(f.to_string_lossy()))
        .collect::<Result<Vec<_>, _>>()?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    ctx.register_table(table.name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output whose tables all exist and are empty.
    fn empty_output() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for t in TABLES {
            std::fs::create_dir(dir.path().join(t.name)).unwrap();
        }
        dir
    }

    #[test]
    fn writes_and_session_changes_are_refused() {
        let dir = empty_output();
        let w = LocalWarehouse::open(dir.path()).unwrap();
        let count = || w.query("SELECT COUNT(*) AS n FROM users").unwrap().rows;
        assert_eq!(count(), vec![vec![Some("0".to_owned())]]);
        let copied = dir.path().join("copied.csv");
        for sql in [
            "CREATE TABLE x AS SELECT 1".to_owned(),
            "CREATE VIEW v AS SELECT * FROM users".to_owned(),
            "DROP TABLE users".to_owned(),
            "INSERT INTO users (user_id, level_at) VALUES (1, now())".to_owned(),
            "DELETE FROM users".to_owned(),
            format!("COPY (SELECT 1) TO '{}'", copied.display()),
            "SET datafusion.execution.batch_size = 1".to_owned(),
        ] {
            let err = w.query(&sql).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, LocalError::Query { .. }) && text.contains("not supported"),
                "{sql}: {text}"
            );
        }
        assert!(!copied.exists());
        assert_eq!(count(), vec![vec![Some("0".to_owned())]]);
    }

    #[test]
    fn only_part_files_are_read() {
        let dir = empty_output();
        std::fs::write(dir.path().join("users/notes.parquet"), b"not parquet").unwrap();
        std::fs::write(dir.path().join("users/part-00000.parquet.tmp"), b"partial").unwrap();
        let w = LocalWarehouse::open(dir.path()).unwrap();
        let rows = w.query("SELECT COUNT(*) FROM users").unwrap().rows;
        assert_eq!(rows, vec![vec![Some("0".to_owned())]]);
        // A path in SQL is not a table.
        let notes = dir.path().join("users/notes.parquet");
        let err = w.query(&format!("SELECT * FROM '{}'", notes.display()));
        assert!(err.unwrap_err().to_string().contains("not found"));
    }
}
