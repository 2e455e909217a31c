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
//!
//! After every COPY, `pg_last_copy_count()` must equal the rows the run wrote (recorded in
//! `_latest`), so a partial load fails instead of committing. A failed COPY is reported with the
//! rows of `sys_load_error_detail`, `stl_load_errors` or `svl_s3log` (see [`load_error_queries`]). `TRUNCATE` and `ALTER TABLE APPEND`
//! commit implicitly and are never used. Any failure before `COMMIT` rolls back: the final tables
//! keep their previous state, and a rerun of the same run gives the same tables.
//!
//! Statements are planned first ([`plan_load`], [`plan_ddl`]) and then run through an
//! [`Executor`], so `--dry-run` prints exactly the statements a load runs, and tests run the plan
//! against a recording fake.

mod target;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub use super::exec::{Executor, Reply, ServerError};
pub use target::{RedshiftTarget, DEFAULT_PORT};

use super::exec::{first_line, on_table};
use super::postgres::{LoadReport, PgError, TableLoad};
use super::sql::{load_error_queries, InvalidLiteral, RedshiftLoad, S3Url, Sql, WriteMode};
use crate::schema::{Table, TABLES};
use crate::sink::s3::{
    manifest_key, publish_to_s3_with, read_latest, LatestRun, PublishError, PublishOptions,
};
use crate::source::s3::S3Location;

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
    /// A statement failed.
    #[error(
        "Redshift statement failed{}: `{statement}`: {reason}; the tables were left as they were",
        on_table(*table)
    )]
    Statement {
        /// The table the statement was for, if any.
        table: Option<&'static str>,
        /// The first line of the statement.
        statement: String,
        /// The server's explanation.
        reason: String,
    },
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
// Plans
// ---------------------------------------------------------------------------------------------

/// What the loader does with a statement's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// Nothing beyond success: DDL, locks.
    Plain,
    /// Creates the table's temporary stage: from here on the stage is dropped however the load
    /// ends.
    CreateStage,
    /// `BEGIN`: from here on a failure rolls back.
    Begin,
    /// `COMMIT`: the load takes effect.
    Commit,
    /// A COPY from `manifest`; a failure is explained from the load-error tables.
    Copy {
        /// The manifest URL.
        manifest: S3Url,
    },
    /// `SELECT pg_last_copy_count()`, which must return `expected`.
    CopyCount {
        /// The manifest URL of the COPY checked.
        manifest: S3Url,
        /// Rows the run wrote.
        expected: u64,
    },
    /// Deletes target rows (counted).
    Delete,
    /// Inserts target rows (counted).
    Insert,
    /// Drops the table's stage, after `COMMIT` or after a failure: a failure is only logged.
    DropStage,
}

/// One statement of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The table it is for, if any.
    pub table: Option<&'static str>,
    /// The statement, ending in `;`.
    pub sql: String,
    /// What its result means.
    pub kind: StepKind,
}

impl Step {
    fn new(table: Option<&'static str>, sql: &str, kind: StepKind) -> Step {
        Step {
            table,
            sql: sql.to_owned(),
            kind,
        }
    }
}

/// The statements of a load or of DDL, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPlan {
    /// The write mode (DDL plans say [`WriteMode::Replace`]; they load no table).
    pub mode: WriteMode,
    /// The tables loaded, in load order, with their file counts.
    pub tables: Vec<(&'static str, usize)>,
    /// The statements.
    pub steps: Vec<Step>,
}

impl LoadPlan {
    /// The statements, one after another, as `--dry-run` prints them.
    pub fn script(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            out.push_str(step.sql.trim_end());
            out.push('\n');
        }
        out
    }
}

const BEGIN: &str = "BEGIN;";
const COMMIT: &str = "COMMIT;";
const ROLLBACK: &str = "ROLLBACK;";

/// One table of a published run, ready to COPY.
#[derive(Debug, Clone)]
pub struct CopySource {
    /// The table.
    pub table: &'static Table,
    /// Its COPY manifest.
    pub manifest: S3Url,
    /// Rows the run wrote.
    pub rows: u64,
    /// Parquet files in the manifest.
    pub files: usize,
}

/// The tables of `run`, in load order (dimensions first), with their manifests validated as COPY
/// literals. Every star-schema table must be present with a row count; entries that are not
/// star-schema tables are ignored, so their names never reach a statement.
pub fn copy_sources(run: &LatestRun) -> Result<Vec<CopySource>> {
    let fail = |reason: String| RedshiftError::Run {
        run_id: run.run_id.clone(),
        reason,
    };
    for extra in run
        .tables
        .iter()
        .filter(|t| Table::by_name(&t.name).is_none())
    {
        tracing::warn!(
            run = run.run_id,
            table = ?extra.name,
            "the run lists a table that is not part of the star schema; it is not loaded"
        );
    }
    TABLES
        .iter()
        .map(|&table| {
            let entry = run
                .table(table.name)
                .ok_or_else(|| fail(format!("it has no table {}", table.name)))?;
            let rows = entry.rows.ok_or_else(|| {
                fail(format!(
                    "its run pointer records no row count for {}, so the COPY could not be \
                     verified; republish it",
                    table.name
                ))
            })?;
            if entry.files == 0 && rows > 0 {
                return Err(fail(format!("{} has {rows} rows but no files", table.name)));
            }
            Ok(CopySource {
                table,
                manifest: S3Url::new(&entry.manifest_url)?,
                rows,
                files: entry.files,
            })
        })
        .collect()
}

/// The statements loading `sources` in `mode` (see the module documentation). A table without
/// files is emptied by a replace and left alone by a merge.
pub fn plan_load(
    sql: &Sql,
    sources: &[CopySource],
    role: &super::sql::IamRole,
    mode: WriteMode,
) -> LoadPlan {
    let loads: Vec<(&CopySource, RedshiftLoad)> = sources
        .iter()
        .filter(|s| s.files > 0 || mode == WriteMode::Replace)
        .map(|s| (s, sql.redshift_load(s.table, mode, &s.manifest, role)))
        .collect();
    let on = |s: &CopySource, sql: &str, kind: StepKind| Step::new(Some(s.table.name), sql, kind);
    let copy = |s: &CopySource, l: &RedshiftLoad| {
        let manifest = s.manifest.clone();
        let expected = s.rows;
        [
            on(
                s,
                &l.copy,
                StepKind::Copy {
                    manifest: manifest.clone(),
                },
            ),
            on(s, &l.copy_count, StepKind::CopyCount { manifest, expected }),
        ]
    };
    let mut steps = Vec::new();
    if mode == WriteMode::Merge {
        for (s, l) in &loads {
            steps.extend(
                l.create_stage
                    .iter()
                    .map(|c| on(s, c, StepKind::CreateStage)),
            );
            steps.extend(copy(s, l));
        }
    }
    steps.push(Step::new(None, BEGIN, StepKind::Begin));
    steps.extend(loads.iter().map(|(s, l)| on(s, &l.lock, StepKind::Plain)));
    for (s, l) in &loads {
        steps.push(on(s, &l.delete, StepKind::Delete));
        match &l.insert {
            Some(insert) => steps.push(on(s, insert, StepKind::Insert)),
            None if s.files > 0 => steps.extend(copy(s, l)),
            None => {}
        }
    }
    steps.push(Step::new(None, COMMIT, StepKind::Commit));
    for (s, l) in &loads {
        steps.extend(l.drop_stage.iter().map(|d| on(s, d, StepKind::DropStage)));
    }
    LoadPlan {
        mode,
        tables: sources.iter().map(|s| (s.table.name, s.files)).collect(),
        steps,
    }
}

/// Creates (`create = true`) or drops the star-schema tables, idempotently, in one transaction.
pub fn plan_ddl(sql: &Sql, create: bool) -> LoadPlan {
    let statements = if create {
        sql.create_tables()
    } else {
        sql.drop_tables()
    };
    let mut steps = vec![Step::new(None, BEGIN, StepKind::Begin)];
    steps.extend(
        statements
            .iter()
            .map(|sql| Step::new(None, sql, StepKind::Plain)),
    );
    steps.push(Step::new(None, COMMIT, StepKind::Commit));
    LoadPlan {
        mode: WriteMode::Replace,
        tables: Vec::new(),
        steps,
    }
}

/// The plan `--dry-run` prints for a run that is not published yet: every table with files, under
/// run id `run_id` of the target's staging prefix. Row counts are not known before the run.
pub fn plan_for_dry_run(
    target: &RedshiftTarget,
    run_id: &str,
    mode: WriteMode,
) -> Result<LoadPlan> {
    let sources = TABLES
        .iter()
        .map(|&table| {
            let key = manifest_key(&target.staging, run_id, table.name);
            Ok(CopySource {
                table,
                manifest: S3Url::new(&target.staging.url_of(&key))?,
                rows: 0,
                files: 1,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(plan_load(&target.sql(), &sources, &target.iam_role, mode))
}

// ---------------------------------------------------------------------------------------------
// Running a plan
// ---------------------------------------------------------------------------------------------

/// How a plan stopped early.
enum Stop {
    /// A COPY failed: the load-error tables are read once the transaction is rolled back.
    Copy {
        table: &'static str,
        manifest: String,
        reason: String,
    },
    Error(RedshiftError),
}

/// What a run of a plan has done to the session so far.
#[derive(Default)]
struct Session {
    in_transaction: bool,
    /// Tables whose stage was created and not yet dropped.
    stages: Vec<&'static str>,
}

/// Runs `plan` on `exec`, step by step. On a failure inside the transaction it issues `ROLLBACK`
/// before anything else; a failed COPY is then explained from the load-error tables, and the stage
/// tables created so far are dropped.
pub async fn execute<E: Executor>(exec: &mut E, plan: &LoadPlan) -> Result<LoadReport> {
    let mut session = Session::default();
    let stop = match run_steps(exec, plan, &mut session).await {
        Ok(report) => return Ok(report),
        Err(stop) => stop,
    };
    if session.in_transaction {
        if let Err(e) = exec.run(ROLLBACK).await {
            tracing::warn!(
                error = %e,
                "ROLLBACK after a failed load failed; the server discards the open transaction \
                 when the connection closes"
            );
        }
    }
    let error = match stop {
        Stop::Error(e) => e,
        Stop::Copy {
            table,
            manifest,
            reason,
        } => RedshiftError::Copy {
            table,
            manifest,
            reason,
            details: load_errors(exec).await,
        },
    };
    for step in &plan.steps {
        let created = step.table.is_some_and(|t| session.stages.contains(&t));
        if step.kind == StepKind::DropStage && created {
            drop_stage(exec, step).await;
        }
    }
    Err(error)
}

/// Runs a [`StepKind::DropStage`] step; a failure is only logged (the stage goes with the session).
async fn drop_stage<E: Executor>(exec: &mut E, step: &Step) {
    if let Err(e) = exec.run(&step.sql).await {
        tracing::warn!(
            statement = first_line(&step.sql),
            error = %e,
            "dropping a stage table failed; it goes when the session ends"
        );
    }
}

async fn run_steps<E: Executor>(
    exec: &mut E,
    plan: &LoadPlan,
    session: &mut Session,
) -> std::result::Result<LoadReport, Stop> {
    let mut report = LoadReport {
        mode: plan.mode,
        tables: plan
            .tables
            .iter()
            .map(|&(table, files)| TableLoad {
                table,
                files,
                staged: 0,
                deleted: 0,
                inserted: 0,
            })
            .collect(),
    };
    for step in &plan.steps {
        if step.kind == StepKind::DropStage {
            drop_stage(exec, step).await;
            session.stages.retain(|t| Some(*t) != step.table);
            continue;
        }
        let reply = exec.run(&step.sql).await.map_err(|e| match &step.kind {
            StepKind::Copy { manifest } => Stop::Copy {
                table: step.table.unwrap_or("?"),
                manifest: manifest.to_string(),
                reason: e.message,
            },
            StepKind::Commit => {
                // The server ends a transaction whose COMMIT failed.
                session.in_transaction = false;
                if e.code.is_none() {
                    Stop::Error(RedshiftError::CommitUnknown { reason: e.message })
                } else {
                    Stop::Error(RedshiftError::Commit { reason: e.message })
                }
            }
            _ => Stop::Error(RedshiftError::Statement {
                table: step.table,
                statement: first_line(&step.sql),
                reason: e.message,
            }),
        })?;
        let entry = step
            .table
            .and_then(|t| report.tables.iter_mut().find(|e| e.table == t));
        match (&step.kind, entry) {
            (StepKind::Begin, _) => session.in_transaction = true,
            (StepKind::Commit, _) => session.in_transaction = false,
            (StepKind::CreateStage, _) => session.stages.extend(step.table),
            (StepKind::CopyCount { manifest, expected }, Some(entry)) => {
                let loaded = reply.scalar().and_then(|v| v.trim().parse::<i64>().ok());
                let loaded = loaded.ok_or_else(|| {
                    Stop::Error(RedshiftError::Statement {
                        table: step.table,
                        statement: first_line(&step.sql),
                        reason: format!("expected one row count, got {:?}", reply.rows),
                    })
                })?;
                if u64::try_from(loaded).ok() != Some(*expected) {
                    return Err(Stop::Error(RedshiftError::RowCount {
                        table: entry.table,
                        manifest: manifest.to_string(),
                        written: *expected,
                        loaded,
                    }));
                }
                entry.staged = *expected;
                if plan.mode == WriteMode::Replace {
                    entry.inserted = *expected;
                }
            }
            (StepKind::Delete, Some(entry)) => entry.deleted += reply.affected,
            (StepKind::Insert, Some(entry)) => entry.inserted += reply.affected,
            _ => {}
        }
    }
    for t in &report.tables {
        tracing::info!(
            table = t.table,
            copied = t.staged,
            deleted = t.deleted,
            inserted = t.inserted,
            "loaded into Redshift"
        );
    }
    Ok(report)
}

/// What the load-error tables say about this session's failed COPY, as one line: the newest rows
/// of the first of [`load_error_queries`] that has any, else why none could tell.
///
/// Inside a transaction Redshift answers nothing but `ROLLBACK` after a failure (SQLSTATE 25P02),
/// so the caller rolls back first; the queries select by session, which survives the rollback.
async fn load_errors<E: Executor>(exec: &mut E) -> String {
    let mut failures = Vec::new();
    let mut answered = false;
    for query in load_error_queries() {
        match exec.run(query).await {
            Ok(reply) if reply.rows.is_empty() => answered = true,
            Ok(reply) => {
                let mut out = String::from("load errors:");
                for row in &reply.rows {
                    let v = |i: usize| {
                        row.get(i)
                            .and_then(|v| v.as_deref())
                            .map_or("", str::trim)
                            .to_owned()
                    };
                    let _ = write!(
                        out,
                        " [{}, line {}, column {} ({}): {} (code {})]",
                        v(0),
                        v(1),
                        v(2),
                        v(3),
                        v(5),
                        v(4)
                    );
                }
                return out;
            }
            Err(e) => failures.push(format!("{}: {e}", first_line(query))),
        }
    }
    if answered {
        "the load-error tables hold no rows for this COPY".to_owned()
    } else {
        format!("load error details unavailable ({})", failures.join("; "))
    }
}

// ---------------------------------------------------------------------------------------------
// Whole flows
// ---------------------------------------------------------------------------------------------

/// A load of one published run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLoad {
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
) -> Result<RunLoad> {
    check_run_location(&target.staging, run)?;
    let sources = copy_sources(run)?;
    let plan = plan_load(&target.sql(), &sources, &target.iam_role, mode);
    let report = execute(exec, &plan).await?;
    Ok(RunLoad {
        run_id: run.run_id.clone(),
        run_url: target.staging.url_of(&run.run_prefix),
        report,
    })
}

/// Refuses a run whose manifests are not under the `staging` prefix: `_latest` is read from S3,
/// and COPY must read only runs published there, not whatever bucket a changed pointer names.
pub fn check_run_location(staging: &S3Location, run: &LatestRun) -> Result<()> {
    let prefix = format!(
        "{}/",
        staging.url_of(&staging.key("")).trim_end_matches('/')
    );
    match run
        .tables
        .iter()
        .find(|t| !t.manifest_url.starts_with(&prefix) || t.manifest_url.contains("/../"))
    {
        Some(t) => Err(RedshiftError::Run {
            run_id: run.run_id.clone(),
            reason: format!(
                "its manifest for {} is {}, outside the staging prefix {prefix}",
                t.name, t.manifest_url
            ),
        }),
        None => Ok(()),
    }
}

/// Loads the run `_latest` names under the target's staging prefix.
pub async fn load_latest<E: Executor>(
    exec: &mut E,
    s3: &aws_sdk_s3::Client,
    target: &RedshiftTarget,
    mode: WriteMode,
) -> Result<RunLoad> {
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
) -> Result<RunLoad> {
    let options = PublishOptions {
        rows,
        ..PublishOptions::default()
    };
    let published = publish_to_s3_with(s3, staged, &target.staging, run_id, &options).await?;
    load_run(exec, target, &published.latest, mode).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{SONGS, USERS};
    use crate::warehouse::sql::{Dialect, IamRole};

    fn source(table: &'static Table, rows: u64, files: usize) -> CopySource {
        CopySource {
            table,
            manifest: S3Url::new(&format!("s3://bkt/p/runs/r/{}.manifest", table.name)).unwrap(),
            rows,
            files,
        }
    }

    fn kinds(plan: &LoadPlan) -> Vec<(Option<&str>, String)> {
        plan.steps
            .iter()
            .map(|s| {
                (
                    s.table,
                    format!("{:?}", s.kind)
                        .split([' ', '{'])
                        .next()
                        .unwrap()
                        .to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn a_table_without_files_is_emptied_by_replace_and_skipped_by_merge() {
        let sql = Sql::new(Dialect::Redshift, None);
        let role = IamRole::new("arn:aws:iam::123456789012:role/r").unwrap();
        let sources = [source(&USERS, 0, 0), source(&SONGS, 7, 1)];
        let k = |s: &str| s.to_owned();

        let plan = plan_load(&sql, &sources, &role, WriteMode::Replace);
        assert_eq!(
            kinds(&plan),
            [
                (None, k("Begin")),
                (Some("users"), k("Plain")),
                (Some("songs"), k("Plain")),
                (Some("users"), k("Delete")),
                (Some("songs"), k("Delete")),
                (Some("songs"), k("Copy")),
                (Some("songs"), k("CopyCount")),
                (None, k("Commit")),
            ]
        );
        assert_eq!(plan.tables, [("users", 0), ("songs", 1)]);

        let plan = plan_load(&sql, &sources, &role, WriteMode::Merge);
        assert!(plan.steps.iter().all(|s| s.table != Some("users")));
        assert_eq!(
            plan.steps
                .iter()
                .filter(|s| s.kind == StepKind::Begin)
                .count(),
            1
        );
        assert_eq!(
            plan.steps.last().map(|s| s.sql.as_str()),
            Some("DROP TABLE stage_songs;\n")
        );
    }

    #[test]
    fn a_manifest_outside_the_staging_prefix_is_refused() {
        let staging = S3Location::parse("s3://bkt/dwh").unwrap();
        let table = |url: &str| crate::sink::s3::LatestTable {
            name: "users".into(),
            manifest_key: String::new(),
            manifest_url: url.into(),
            files: 1,
            bytes: 1,
            rows: Some(1),
        };
        let mut run = LatestRun {
            format: 1,
            run_id: "r".into(),
            previous_run_id: None,
            bucket: "bkt".into(),
            run_prefix: "dwh/runs/r/".into(),
            published_at: 0,
            tables: vec![table("s3://bkt/dwh/runs/r/users.manifest")],
            rejects: Vec::new(),
        };
        assert!(check_run_location(&staging, &run).is_ok());
        for bad in [
            "s3://other/dwh/runs/r/users.manifest",
            "s3://bkt/dwh2/runs/r/users.manifest",
            "s3://bkt/users.manifest",
            "s3://bkt/dwh/../x/users.manifest",
        ] {
            run.tables = vec![table(bad)];
            let e = check_run_location(&staging, &run).unwrap_err().to_string();
            assert!(
                e.contains("outside the staging prefix s3://bkt/dwh/"),
                "{e}"
            );
        }
    }

    #[test]
    fn ddl_runs_in_one_transaction() {
        let plan = plan_ddl(&Sql::new(Dialect::Redshift, None), false);
        let script = plan.script();
        assert!(
            script.starts_with("BEGIN;\nDROP TABLE IF EXISTS songplays;\n"),
            "{script}"
        );
        assert!(
            script.ends_with("DROP TABLE IF EXISTS users;\nCOMMIT;\n"),
            "{script}"
        );
    }
}
