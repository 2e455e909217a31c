//! Executing a plan on an [`Executor`]: step by step, `ROLLBACK` first on a failure inside the
//! transaction, a failed COPY explained from the load-error tables, stages dropped however the
//! load ends.

use std::fmt::Write as _;

use super::plan::LoadPlan;
use super::{RedshiftError, Result};
use crate::warehouse::exec::steps::StepSession;
use crate::warehouse::exec::{first_line, ExecError, Executor, Warehouse};
use crate::warehouse::plan::StepKind;
use crate::warehouse::postgres::{LoadReport, TableLoad};
use crate::warehouse::sql::{load_error_queries, Dialect, WriteMode};

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

/// Executes `plan` on `exec`, step by step. On a failure inside the transaction it issues `ROLLBACK`
/// before anything else; a failed COPY is then explained from the load-error tables, and the stage
/// tables created so far are dropped.
pub async fn execute<E: Executor>(exec: &mut E, plan: &LoadPlan) -> Result<LoadReport> {
    let mut session = StepSession::new(Dialect::Redshift);
    let stop = match execute_steps(exec, plan, &mut session).await {
        Ok(report) => return Ok(report),
        Err(stop) => stop,
    };
    session.roll_back(exec, "load").await;
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
    session.clean_up(exec, &plan.steps, "load").await;
    Err(error)
}

async fn execute_steps<E: Executor>(
    exec: &mut E,
    plan: &LoadPlan,
    session: &mut StepSession,
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
        let reply = session
            .run(exec, step)
            .await
            .map_err(|e| match &step.kind {
                StepKind::Copy { manifest } => Stop::Copy {
                    table: step.table.unwrap_or("?"),
                    manifest: manifest.to_string(),
                    reason: e.message,
                },
                StepKind::Commit if e.code.is_none() => {
                    Stop::Error(RedshiftError::CommitUnknown { reason: e.message })
                }
                StepKind::Commit => Stop::Error(RedshiftError::Commit { reason: e.message }),
                _ => Stop::Error(RedshiftError::Statement(session.error(step, e))),
            })?;
        let entry = step
            .table
            .and_then(|t| report.tables.iter_mut().find(|e| e.table == t));
        match (&step.kind, entry) {
            (StepKind::Shape, _) => {
                crate::warehouse::shape::compare(&reply.rows)
                    .map_err(|e| Stop::Error(RedshiftError::Shape(e)))?;
            }
            (StepKind::CopyCount { manifest, expected }, Some(entry)) => {
                let loaded = reply.scalar().and_then(|v| v.trim().parse::<i64>().ok());
                let loaded = loaded.ok_or_else(|| {
                    Stop::Error(RedshiftError::Statement(ExecError::Unexpected {
                        warehouse: Warehouse(Dialect::Redshift),
                        statement: first_line(&step.sql),
                        reason: format!("expected one row count, got {:?}", reply.rows),
                    }))
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
            _ => {}
        }
    }
    for t in &mut report.tables {
        let rows = session.rows(t.table);
        t.deleted += rows.deleted;
        t.inserted += rows.inserted;
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
