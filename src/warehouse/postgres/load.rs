//! The transactional load: lock, stage with `COPY`, verify row counts, replace or merge, commit —
//! the steps of [`super::load_steps`], executed with what every plan executor shares.

use std::collections::HashSet;
use std::path::PathBuf;

use tokio_postgres::Client;

use super::copy::copy_file;
use super::error::{commit_error, PgError, Result};
use super::plan::load_steps;
use super::WriteMode;
use crate::schema::{Table, TABLES};
use crate::warehouse::exec::steps::StepSession;
use crate::warehouse::exec::{first_line, ExecError, Warehouse};
use crate::warehouse::plan::{Step, StepKind};
use crate::warehouse::server::Executor;
use crate::warehouse::shape::{compare, ShapeError};
use crate::warehouse::sql::{statement_body, Dialect, Sql};

/// The Parquet files holding one table's rows.
#[derive(Debug, Clone)]
pub struct TableData {
    /// The table (one of [`crate::schema::TABLES`]).
    pub table: &'static Table,
    /// Parquet files with exactly [`Table::arrow_schema`]; may be empty.
    pub files: Vec<PathBuf>,
}

/// Row counts for one loaded table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLoad {
    /// Table name.
    pub table: &'static str,
    /// Parquet files read.
    pub files: usize,
    /// Rows read from Parquet and staged (verified equal).
    pub staged: u64,
    /// Rows deleted from the target (all of them for replace; replaced keys for merge).
    pub deleted: u64,
    /// Rows inserted into the target.
    pub inserted: u64,
}

/// What a load did, per table, in load order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// The write mode used.
    pub mode: WriteMode,
    /// One entry per loaded table.
    pub tables: Vec<TableLoad>,
}

impl LoadReport {
    /// The counts of one table, if it was loaded.
    pub fn table(&self, name: &str) -> Option<&TableLoad> {
        self.tables.iter().find(|t| t.table == name)
    }
}

/// Loads `tables` into the tables of the connection's search path. See [`load_with`].
pub async fn load(
    client: &mut Client,
    tables: &[TableData],
    mode: WriteMode,
) -> Result<LoadReport> {
    load_with(client, &Sql::new(Dialect::Postgres, None), tables, mode).await
}

/// Loads `tables` in one transaction, with statements rendered by `sql` (which must be for
/// PostgreSQL; its schema, if any, qualifies the targets): executes the plan of [`load_steps`].
///
/// Tables are processed in [`TABLES`] order (dimensions first): all targets are locked against
/// concurrent writers, every file is copied into `stage_<table>` and its row count verified, then
/// each target is replaced (`DELETE` all + `INSERT`) or merged (`DELETE` matching keys + `INSERT`;
/// for `users` the row with the newer `level_at` wins); a window replace deletes the `songplays` and
/// `time` rows of its range and inserts the staged rows in it, and merges the other tables. With
/// [`WriteMode::Replace`], a table given with no files ends up empty. Any error rolls everything
/// back.
pub async fn load_with<E: Executor>(
    exec: &mut E,
    sql: &Sql,
    tables: &[TableData],
    mode: WriteMode,
) -> Result<LoadReport> {
    if sql.dialect() != Dialect::Postgres {
        return Err(PgError::InvalidRequest(format!(
            "the PostgreSQL loader cannot run {} statements",
            sql.dialect()
        )));
    }
    let ordered = order_tables(tables)?;
    let order: Vec<&'static Table> = ordered.iter().map(|td| td.table).collect();
    let steps = load_steps(sql, &order, mode);
    let mut report = LoadReport {
        mode,
        tables: ordered
            .iter()
            .map(|td| TableLoad {
                table: td.table.name,
                files: td.files.len(),
                staged: 0,
                deleted: 0,
                inserted: 0,
            })
            .collect(),
    };
    let mut session = StepSession::new(Dialect::Postgres);
    for step in &steps {
        let data = step
            .table
            .and_then(|t| ordered.iter().find(|td| td.table.name == t));
        let entry = step
            .table
            .and_then(|t| report.tables.iter_mut().find(|e| e.table == t));
        if let Err(e) = execute_step(exec, &mut session, step, data, entry).await {
            session.clean_up(exec, &steps, "load").await;
            return Err(e);
        }
    }
    for t in &mut report.tables {
        let rows = session.rows(t.table);
        t.deleted = rows.deleted;
        t.inserted = rows.inserted;
        tracing::info!(
            table = t.table,
            staged = t.staged,
            deleted = t.deleted,
            inserted = t.inserted,
            "loaded into PostgreSQL"
        );
    }
    Ok(report)
}

/// Executes one step of a load. A table's `COPY` step streams its Parquet files and records the
/// rows read in `entry.staged`, which its count step then verifies.
async fn execute_step<E: Executor>(
    exec: &mut E,
    session: &mut StepSession,
    step: &Step,
    data: Option<&&TableData>,
    entry: Option<&mut TableLoad>,
) -> Result<()> {
    if step.kind == StepKind::CopyParquet {
        let client = exec.client().ok_or_else(|| {
            PgError::InvalidRequest("loading Parquet needs a PostgreSQL connection".into())
        })?;
        if let (Some(td), Some(entry)) = (data, entry) {
            for file in &td.files {
                entry.staged +=
                    copy_file(client, td.table, file, statement_body(&step.sql)).await?;
            }
        }
        return Ok(());
    }
    let reply = session.run(exec, step).await.map_err(|e| match step.kind {
        StepKind::Shape => ShapeError::Query(e).into(),
        StepKind::Commit => commit_error(e),
        _ => PgError::from(session.error(step, e)),
    })?;
    match (&step.kind, entry) {
        (StepKind::Shape, _) => compare(&reply.rows)?,
        (StepKind::CountStage, Some(entry)) => {
            let staged = reply
                .scalar()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| ExecError::Unexpected {
                    warehouse: Warehouse(Dialect::Postgres),
                    statement: first_line(&step.sql),
                    reason: format!("expected one row count, got {:?}", reply.rows),
                })?;
            if staged != entry.staged {
                return Err(PgError::RowCountMismatch {
                    table: entry.table,
                    file: None,
                    read: entry.staged,
                    staged,
                });
            }
            tracing::debug!(
                table = entry.table,
                rows = staged,
                files = entry.files,
                "staged"
            );
        }
        _ => {}
    }
    Ok(())
}

/// Checks the request and sorts it into [`TABLES`] order.
fn order_tables(tables: &[TableData]) -> Result<Vec<&TableData>> {
    let mut seen = HashSet::new();
    for td in tables {
        if Table::by_name(td.table.name).is_none() {
            return Err(PgError::InvalidRequest(format!(
                "{} is not a table of the star schema",
                td.table.name
            )));
        }
        if !seen.insert(td.table.name) {
            return Err(PgError::InvalidRequest(format!(
                "table {} is listed twice",
                td.table.name
            )));
        }
    }
    let position = |name: &str| TABLES.iter().position(|t| t.name == name);
    let mut ordered: Vec<&TableData> = tables.iter().collect();
    ordered.sort_by_key(|td| position(td.table.name));
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_duplicates() {
        use crate::schema::{SONGPLAYS, USERS};
        let req = [
            TableData {
                table: &SONGPLAYS,
                files: vec![],
            },
            TableData {
                table: &USERS,
                files: vec![],
            },
        ];
        let o = order_tables(&req).unwrap();
        assert_eq!(o[0].table.name, "users");
        let dup = [req[0].clone(), req[0].clone()];
        assert!(order_tables(&dup).is_err());
    }
}
