//! Loading the star schema into a warehouse.
//!
//! Every target loads the same Parquet files the local run writes, so the PostgreSQL and Redshift
//! paths share one transform and one writer. SQL is rendered from `sql/` templates and
//! [`crate::schema`] by [`sql`].
//!
//! Beyond loading: [`elt`] builds the star schema inside the warehouse from staged raw JSON,
//! [`check`] runs data-quality checks on the loaded tables and [`query`] runs example analytics.

pub mod check;
pub mod cluster;
pub mod elt;
pub mod exec;
pub mod postgres;
pub mod query;
pub mod render;
pub mod sql;

use std::path::{Path, PathBuf};

use crate::schema::TABLES;
use crate::{Error, Result};

pub use sql::WriteMode;

/// The Parquet part files of each table under `dir` (laid out `<table>/part-NNNNN.parquet`).
pub fn tables_in(dir: &Path) -> Result<Vec<postgres::TableData>> {
    TABLES
        .iter()
        .map(|&table| {
            let folder = dir.join(table.name);
            let entries =
                std::fs::read_dir(&folder).map_err(|source| crate::source::Error::Io {
                    path: folder.display().to_string(),
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

/// A small tokio runtime for the warehouse clients (the CPU work runs on rayon, not here).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))
}

/// Loads the star schema in `dir` into PostgreSQL in one transaction.
pub fn load_postgres(
    target: &postgres::PgTarget,
    dir: &Path,
    mode: WriteMode,
) -> Result<postgres::LoadReport> {
    let tables = tables_in(dir)?;
    runtime()?.block_on(async {
        let mut client = target.connect().await?;
        Ok(postgres::load(&mut client, &tables, mode).await?)
    })
}

/// The summary of a PostgreSQL load.
pub fn load_summary(
    target: &postgres::PgTarget,
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
    runtime()?.block_on(async {
        let mut client = target.connect().await?;
        if create {
            postgres::create_tables(&mut client, None).await?;
        } else {
            postgres::drop_tables(&mut client, None).await?;
        }
        Ok(())
    })
}
