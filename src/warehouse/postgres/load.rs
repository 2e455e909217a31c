//! The transactional load: lock, stage with `COPY`, verify row counts, replace or merge, commit.

use std::collections::HashSet;
use std::path::PathBuf;

use tokio_postgres::{Client, Transaction};

use super::copy::copy_file;
use super::error::{commit_error, describe, statement_error, PgError, Result};
use super::WriteMode;
use crate::schema::{Table, TABLES};
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
/// PostgreSQL; its schema, if any, qualifies the targets).
///
/// Tables are processed in [`TABLES`] order (dimensions first): all targets are locked against
/// concurrent writers, every file is copied into `stage_<table>` and its row count verified, then
/// each target is replaced (`DELETE` all + `INSERT`) or merged (`DELETE` matching keys + `INSERT`;
/// for `users` the row with the newer `level_at` wins); a window replace deletes the `songplays` and
/// `time` rows of its range and inserts the staged rows in it, and merges the other tables. With
/// [`WriteMode::Replace`], a table given with no files ends up empty. Any error rolls everything
/// back.
pub async fn load_with(
    client: &mut Client,
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
    for s in sql.setup() {
        client
            .batch_execute(s)
            .await
            .map_err(statement_error(None, s))?;
    }
    crate::warehouse::shape::check(client, sql).await?;
    let tx = client
        .transaction()
        .await
        .map_err(statement_error(None, "BEGIN"))?;
    match load_in(&tx, sql, &ordered, mode).await {
        Ok(report) => {
            tx.commit().await.map_err(commit_error)?;
            for t in &report.tables {
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
        Err(e) => {
            if let Err(rb) = tx.rollback().await {
                tracing::warn!(
                    error = %describe(&rb),
                    "ROLLBACK after a failed load failed; the server discards the open \
                     transaction when the connection closes"
                );
            }
            Err(e)
        }
    }
}

/// Every statement of a load of all tables in `mode`, in the order [`load_with`] runs them, for
/// `--dry-run` (the COPY of a table runs once per Parquet file).
pub fn load_script(sql: &Sql, mode: WriteMode) -> String {
    let plans: Vec<_> = TABLES
        .iter()
        .map(|t| sql.load_statements(t, mode))
        .collect();
    let mut out: Vec<&str> = sql.setup().iter().map(String::as_str).collect();
    out.push("BEGIN;\n");
    out.extend(plans.iter().map(|s| s.lock.as_str()));
    for s in &plans {
        out.push(&s.create_stage);
        out.extend(s.copy.as_deref());
        out.push(&s.count_stage);
        out.push(&s.analyze_stage);
    }
    for s in &plans {
        out.push(&s.delete);
        out.push(&s.insert);
    }
    out.push("COMMIT;\n");
    out.iter()
        .map(|s| s.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
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

async fn load_in(
    tx: &Transaction<'_>,
    sql: &Sql,
    tables: &[&TableData],
    mode: WriteMode,
) -> Result<LoadReport> {
    let plans: Vec<_> = tables
        .iter()
        .map(|td| (*td, sql.load_statements(td.table, mode)))
        .collect();

    // One LOCK per table, so that a missing table is named in the error.
    for (td, s) in &plans {
        let t = Some(td.table.name);
        tx.batch_execute(&s.lock)
            .await
            .map_err(statement_error(t, &s.lock))?;
    }

    let mut report = LoadReport {
        mode,
        tables: Vec::with_capacity(plans.len()),
    };
    for (td, s) in &plans {
        let name = td.table.name;
        let t = Some(name);
        tx.batch_execute(&s.create_stage)
            .await
            .map_err(statement_error(t, &s.create_stage))?;
        let copy = s.copy.as_deref().ok_or_else(|| {
            PgError::InvalidRequest("no COPY statement rendered for PostgreSQL".into())
        })?;
        let mut read = 0u64;
        for file in &td.files {
            read += copy_file(tx, td.table, file, statement_body(copy)).await?;
        }
        let row = tx
            .query_one(statement_body(&s.count_stage), &[])
            .await
            .map_err(statement_error(t, &s.count_stage))?;
        let staged: i64 = row.try_get(0).map_err(statement_error(t, &s.count_stage))?;
        let staged = u64::try_from(staged).unwrap_or(0);
        if staged != read {
            return Err(PgError::RowCountMismatch {
                table: name,
                file: None,
                read,
                staged,
            });
        }
        tx.batch_execute(&s.analyze_stage)
            .await
            .map_err(statement_error(t, &s.analyze_stage))?;
        tracing::debug!(
            table = name,
            rows = staged,
            files = td.files.len(),
            "staged"
        );
        report.tables.push(TableLoad {
            table: name,
            files: td.files.len(),
            staged,
            deleted: 0,
            inserted: 0,
        });
    }

    for ((td, s), entry) in plans.iter().zip(report.tables.iter_mut()) {
        let t = Some(td.table.name);
        entry.deleted = tx
            .execute(statement_body(&s.delete), &[])
            .await
            .map_err(statement_error(t, &s.delete))?;
        entry.inserted = tx
            .execute(statement_body(&s.insert), &[])
            .await
            .map_err(statement_error(t, &s.insert))?;
    }
    Ok(report)
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
