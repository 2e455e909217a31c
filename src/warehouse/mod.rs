//! Loading the star schema into a warehouse.
//!
//! Every target loads the same Parquet files the local run writes, so the PostgreSQL and Redshift
//! paths share one transform and one writer. SQL is rendered from `sql/` templates and
//! [`crate::schema`] by [`sql`].
//!
//! Every command that changes a warehouse builds a plan first — a list of typed [`plan::Step`]s —
//! which `--dry-run` prints and an executor runs over a [`server::Executor`], sharing
//! [`exec::steps`] (transaction, stages, row counts, statement errors).
//!
//! Beyond loading: [`elt`] builds the star schema inside the warehouse from staged raw JSON,
//! [`check`] runs data-quality checks on the loaded tables and [`query`] runs example analytics.

pub mod adhoc;
pub mod check;
pub mod ddl;
pub mod elt;
pub mod exec;
pub mod literal;
pub mod local;
pub mod plan;
pub mod postgres;
pub mod query;
pub mod redshift;
pub mod render;
pub mod replace_window;
mod reserved;
pub mod server;
pub mod session;
pub mod shape;
pub mod sql;
pub mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;

use crate::schema::TABLES;
use crate::{Error, Result};

pub use sql::WriteMode;

/// The Parquet part files of each table under `dir` (laid out `<table>/part-NNNNN.parquet`).
pub fn tables_in(dir: &Path) -> Result<Vec<postgres::TableData>> {
    TABLES
        .iter()
        .map(|&table| {
            let folder = dir.join(table.name);
            let entries = std::fs::read_dir(&folder).map_err(|source| Error::LoadInput {
                path: folder.clone(),
                source,
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
                .collect();
            files.sort();
            Ok(postgres::TableData { table, files })
        })
        .collect()
}

/// How a Parquet file's Arrow schema differs from `table`'s (column count, or the first column
/// whose name or type differs), `None` when it matches. Both loaders map columns by position.
pub(crate) fn schema_mismatch(table: &crate::schema::Table, found: &SchemaRef) -> Option<String> {
    let expected = table.arrow_schema();
    if found.fields().len() != expected.fields().len() {
        return Some(format!(
            "{} columns, expected {} ({})",
            found.fields().len(),
            expected.fields().len(),
            table.column_list()
        ));
    }
    found
        .fields()
        .iter()
        .zip(expected.fields())
        .enumerate()
        .find(|(_, (f, e))| f.name() != e.name() || f.data_type() != e.data_type())
        .map(|(i, (f, e))| {
            format!(
                "column {} is `{}` {}, expected `{}` {}",
                i + 1,
                f.name(),
                f.data_type(),
                e.name(),
                e.data_type()
            )
        })
}

/// Loads the star schema in `dir` into PostgreSQL in one transaction.
pub fn load_postgres(
    target: &postgres::PgTarget,
    dir: &Path,
    mode: WriteMode,
) -> Result<postgres::LoadReport> {
    let tables = tables_in(dir)?;
    crate::runtime()?.block_on(async {
        let mut client = target.connect().await?;
        let sql = target.sql(sql::Dialect::Postgres);
        Ok(postgres::load_with(&mut client, &sql, &tables, mode).await?)
    })
}

/// The summary of a load into `target` (shown with its password redacted).
pub fn load_summary(
    target: &impl std::fmt::Display,
    report: &postgres::LoadReport,
) -> crate::summary::LoadSummary {
    crate::summary::LoadSummary {
        target: target.to_string(),
        mode: report.mode.to_string(),
        tables: report
            .tables
            .iter()
            .map(|t| crate::summary::LoadedTable {
                name: t.table.to_string(),
                staged: t.staged,
                deleted: t.deleted,
                inserted: t.inserted,
            })
            .collect(),
    }
}

/// Creates (`create = true`) or drops the star-schema tables, idempotently.
pub fn ddl_postgres(target: &postgres::PgTarget, create: bool) -> Result<()> {
    crate::runtime()?.block_on(async {
        let mut client = target.connect().await?;
        postgres::execute_ddl(&mut client, &target.sql(sql::Dialect::Postgres), create).await?;
        Ok(())
    })
}

/// Where a Redshift load takes its Parquet from.
#[derive(Debug, Clone)]
pub enum RedshiftInput<'a> {
    /// A local star-schema folder, published to the staging prefix as a new run first, with the
    /// rows of each table (checked against what COPY loads).
    Folder {
        /// The folder (`<table>/*.parquet`).
        dir: &'a Path,
        /// Rows per table.
        rows: BTreeMap<String, u64>,
    },
    /// The run `_latest` names under the staging prefix, as published before.
    Latest,
}

/// Connects to the cluster, publishes the input if it is a folder, and loads it (see
/// [`redshift`]). Connecting comes first, so bad credentials fail before any upload.
pub fn load_redshift(
    target: &redshift::RedshiftTarget,
    input: RedshiftInput<'_>,
    mode: WriteMode,
) -> Result<redshift::LoadedRun> {
    crate::runtime()?.block_on(async {
        let mut client = target.connect().await?;
        let s3 = crate::s3::s3_client(&target.s3_settings()).await;
        let run = match input {
            RedshiftInput::Folder { dir, rows } => {
                let run_id = crate::sink::publish::run_id();
                redshift::publish_and_load(&mut client, &s3, target, dir, &run_id, rows, mode)
                    .await?
            }
            RedshiftInput::Latest => redshift::load_latest(&mut client, &s3, target, mode).await?,
        };
        Ok(run)
    })
}

/// Creates (`create = true`) or drops the star-schema tables in Redshift, idempotently.
pub fn ddl_redshift(target: &redshift::RedshiftTarget, create: bool) -> Result<()> {
    crate::runtime()?.block_on(async {
        let mut client = target.connect().await?;
        redshift::execute(&mut client, &redshift::plan_ddl(&target.sql(), create)).await?;
        Ok(())
    })
}
