//! The Redshift target: Parquet staged on S3, loaded with `COPY … FORMAT AS PARQUET MANIFEST`.
//!
//! Redshift cannot `COPY FROM STDIN`, so a load first publishes the run's Parquet files under the
//! staging prefix ([`crate::sink::s3`]: files, one COPY manifest per table, then `_latest`), then
//! copies each table from its manifest, so that exactly this run's files are read:
//!
//! - **merge** (incremental runs): each table is copied into a temporary stage table
//!   `(LIKE target)` outside the transaction, then one transaction deletes the target rows the
//!   staged rows replace and inserts the staged rows (a user keeps the level of their newest
//!   event, by `level_at`).
//! - **replace** (backfills): one transaction deletes every row and copies straight into each
//!   table.
//! - **replace-window** (reruns of a corrected range): stages as a merge; the transaction deletes
//!   the `songplays` and `time` rows of the range and inserts the staged rows in it, and merges the
//!   other tables.
//!
//! After every COPY, `pg_last_copy_count()` must equal the rows the run wrote (recorded in
//! `_latest`), so a partial load fails instead of committing. A failed COPY is reported with the
//! rows of `sys_load_error_detail`, `stl_load_errors`, `svl_s3log` or `sys_external_query_error`
//! (see [`load_error_queries`]). `TRUNCATE` and `ALTER TABLE APPEND`
//! commit implicitly and are never used. Any failure before `COMMIT` rolls back: the final tables
//! keep their previous state, and a rerun of the same run gives the same tables.
//!
//! Statements are planned first ([`plan_load`], [`plan_ddl`]) and then run through an
//! [`Executor`], so `--dry-run` prints exactly the statements a load runs, and tests run the plan
//! against a recording fake.

mod execute;
mod plan;
mod target;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub use super::exec::{Executor, Reply, ServerError};
pub use super::plan::{Step, StepKind};
pub use execute::execute;
pub use plan::{
    check_run_location, copy_sources, plan_ddl, plan_for_dry_run, plan_load, CopySource, LoadPlan,
};
pub use target::{RedshiftTarget, DEFAULT_PORT};

use super::exec::ExecError;
use super::postgres::{LoadReport, PgError};
use super::sql::{InvalidLiteral, WriteMode};
use crate::sink::s3::{
    prune_after_publish, publish_to_s3_with, read_latest, LatestRun, PublishError, PublishOptions,
};

/// Everything that can go wrong loading Redshift. Messages name the table, statement, manifest or
/// config key involved, and never contain the password.
#[derive(Debug, thiserror::Error)]
pub enum RedshiftError {
    /// The config is missing a key or holds a bad value.
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    /// A COPY literal (S3 URL, IAM role) failed validation; nothing was run.
    #[error("{0}; nothing was run")]
    Literal(#[from] InvalidLiteral),
    /// The connection was refused by policy, or could not be made.
    #[error("Redshift cluster ([CLUSTER] in the config): {0}")]
    Connection(#[from] PgError),
    /// Publishing the Parquet to the staging prefix, or reading `_latest`, failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// `_latest` does not exist under the staging prefix.
    #[error(
        "nothing is published under {staging} (no _latest): run `sparkify etl --target redshift` \
         or `sparkify load --target redshift --input DIR` first"
    )]
    NothingPublished {
        /// The staging prefix.
        staging: String,
    },
    /// The published run cannot be loaded as it is.
    #[error("run {run_id} cannot be loaded: {reason}; nothing was run")]
    Run {
        /// The run id.
        run_id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A local Parquet file could not be read or does not match its table.
    #[error("Parquet file {} for table {table}: {reason}", file.display())]
    Parquet {
        /// Target table.
        table: &'static str,
        /// The file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A statement failed, or answered what it should not have: the one statement error of every
    /// warehouse path ([`ExecError`]: dialect, table, first line, SQLSTATE and message).
    #[error("{0}; the tables were left as they were")]
    Statement(#[source] ExecError),
    /// A COPY failed; `details` holds what the load-error tables say.
    #[error(
        "COPY into {table} from {manifest} failed: {reason}; {details}; the tables were left as \
         they were"
    )]
    Copy {
        /// Target table.
        table: &'static str,
        /// The manifest URL.
        manifest: String,
        /// The server's explanation.
        reason: String,
        /// The load errors of the COPY, or why they could not be read.
        details: String,
    },
    /// A COPY loaded another number of rows than the run wrote.
    #[error(
        "row count mismatch for table {table}: the run wrote {written} rows but COPY from \
         {manifest} loaded {loaded}; the tables were left as they were"
    )]
    RowCount {
        /// Target table.
        table: &'static str,
        /// The manifest URL.
        manifest: String,
        /// Rows the run wrote.
        written: u64,
        /// Rows `pg_last_copy_count()` reported (negative: no COPY ran).
        loaded: i64,
    },
    /// An existing table is not shaped as the star schema; nothing was run after the check.
    #[error(transparent)]
    Shape(#[from] crate::warehouse::shape::ShapeError),
    /// The connection was lost during `COMMIT`: the server may or may not have committed.
    #[error(
        "the connection to Redshift was lost during COMMIT ({reason}): the outcome is unknown; \
         rerun to converge (a rerun of the same run gives the same tables)"
    )]
    CommitUnknown {
        /// The driver's explanation.
        reason: String,
    },
    /// `COMMIT` failed: the server rolled the transaction back.
    #[error("COMMIT of the Redshift load failed, nothing was changed: {reason}")]
    Commit {
        /// The server's explanation.
        reason: String,
    },
}

/// Result type of this module.
pub type Result<T, E = RedshiftError> = std::result::Result<T, E>;

// ---------------------------------------------------------------------------------------------
// Whole flows
// ---------------------------------------------------------------------------------------------

/// A published S3 run, loaded: which run, and what the load did to each table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedRun {
    /// The run loaded.
    pub run_id: String,
    /// `s3://…/runs/<run_id>/`.
    pub run_url: String,
    /// Rows copied, deleted and inserted per table.
    pub report: LoadReport,
}

/// Loads the published `run` into the target's tables in `mode`.
pub async fn load_run<E: Executor>(
    exec: &mut E,
    target: &RedshiftTarget,
    run: &LatestRun,
    mode: WriteMode,
) -> Result<LoadedRun> {
    check_run_location(&target.staging, run)?;
    let sources = copy_sources(run)?;
    let plan = plan_load(&target.sql(), &sources, &target.iam_role, mode);
    let report = execute(exec, &plan).await?;
    Ok(LoadedRun {
        run_id: run.run_id.clone(),
        run_url: target.staging.url_of(&run.run_prefix),
        report,
    })
}

/// Loads the run `_latest` names under the target's staging prefix.
pub async fn load_latest<E: Executor>(
    exec: &mut E,
    s3: &aws_sdk_s3::Client,
    target: &RedshiftTarget,
    mode: WriteMode,
) -> Result<LoadedRun> {
    let run =
        read_latest(s3, &target.staging)
            .await?
            .ok_or_else(|| RedshiftError::NothingPublished {
                staging: target.staging.to_string(),
            })?;
    load_run(exec, target, &run, mode).await
}

/// Publishes the star schema in `staged` (`<table>/*.parquet`, optional `_rejects/`) as run
/// `run_id` under the target's staging prefix, recording `rows` per table, then loads that run.
pub async fn publish_and_load<E: Executor>(
    exec: &mut E,
    s3: &aws_sdk_s3::Client,
    target: &RedshiftTarget,
    staged: &Path,
    run_id: &str,
    rows: BTreeMap<String, u64>,
    mode: WriteMode,
) -> Result<LoadedRun> {
    let options = PublishOptions {
        rows,
        ..PublishOptions::default()
    };
    let published = publish_to_s3_with(s3, staged, &target.staging, run_id, &options).await?;
    let loaded = load_run(exec, target, &published.latest, mode).await?;
    prune_after_publish(s3, &target.staging, target.keep_runs).await;
    Ok(loaded)
}

/// The rows of each table in a local star-schema folder, read from the Parquet footers. Every
/// file's columns must be its table's, in order: Redshift maps Parquet columns by position and
/// reports a mismatch only as an opaque Spectrum error.
pub fn parquet_rows(dir: &Path) -> crate::Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for td in super::tables_in(dir)? {
        let mut rows = 0u64;
        for file in &td.files {
            let fail = |reason: String| RedshiftError::Parquet {
                table: td.table.name,
                file: file.clone(),
                reason,
            };
            let reader = std::fs::File::open(file)
                .map_err(|e| e.to_string())
                .and_then(|f| {
                    ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| e.to_string())
                })
                .map_err(fail)?;
            if let Some(detail) = super::schema_mismatch(td.table, reader.schema()) {
                return Err(fail(format!("does not match the table: {detail}")).into());
            }
            let n = reader.metadata().file_metadata().num_rows();
            rows += u64::try_from(n).map_err(|_| fail(format!("negative row count {n}")))?;
        }
        out.insert(td.table.name.to_owned(), rows);
    }
    Ok(out)
}
