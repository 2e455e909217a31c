//! Running statements on a warehouse connection (PostgreSQL or Redshift, both over the PostgreSQL
//! protocol), with one error type that names the warehouse, the table, the statement and its
//! SQLSTATE. [`Executor`] (from the leaf [`super::server`]) is the one connection type plans run
//! over; [`steps`] is what every plan executor shares.

pub mod steps;

use std::fmt;

use tokio_postgres::{Client, SimpleQueryMessage};

pub use super::server::{Executor, Reply, ServerError};

use super::sql::{statement_body, Dialect, Sql};

/// Errors of the ELT run, the checks and the analytics queries.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A statement failed.
    #[error("{warehouse} statement failed{}: `{statement}`: {source}", on_table(*table))]
    Statement {
        /// `PostgreSQL` or `Redshift`.
        warehouse: Warehouse,
        /// The table the statement was for, if any.
        table: Option<&'static str>,
        /// The statement's first line that is not a comment.
        statement: String,
        /// The server's SQLSTATE and explanation.
        #[source]
        source: ServerError,
    },
    /// The connection was lost during `COMMIT`: the server may or may not have committed.
    #[error(
        "the connection to {warehouse} was lost during COMMIT ({reason}): the outcome is unknown; \
         rerun to converge (a rerun of the same input gives the same tables)"
    )]
    CommitUnknown {
        /// `PostgreSQL` or `Redshift`.
        warehouse: Warehouse,
        /// The driver's explanation.
        reason: String,
    },
    /// An existing table is not shaped as the star schema; nothing was changed.
    #[error(transparent)]
    Shape(#[from] super::shape::ShapeError),
    /// A value for Redshift's COPY is unusable.
    #[error(transparent)]
    Literal(#[from] super::literal::InvalidLiteral),
    /// `COPY` staged another number of rows than sparkify sent.
    #[error("staging {table}: sent {sent} rows, COPY staged {staged}")]
    RowCountMismatch {
        /// The staging table.
        table: &'static str,
        /// Rows sent.
        sent: u64,
        /// Rows the server reported.
        staged: u64,
    },
    /// The thread parsing the input ended without a result (a bug).
    #[error("the input parser for {0} stopped unexpectedly")]
    ParserStopped(&'static str),
    /// A statement returned something other than expected (a bug, or not the expected warehouse).
    #[error("{warehouse} returned an unexpected result for `{statement}`: {reason}")]
    Unexpected {
        /// `PostgreSQL` or `Redshift`.
        warehouse: Warehouse,
        /// The statement's first line.
        statement: String,
        /// What was wrong.
        reason: String,
    },
    /// A run summary given to `check --expect-summary` cannot be used.
    #[error("cannot use run summary {path}: {reason}")]
    Summary {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// ` for table <name>`, or nothing, for messages.
pub(crate) fn on_table(table: Option<&str>) -> String {
    table.map(|t| format!(" for table {t}")).unwrap_or_default()
}

/// The warehouse a statement ran on, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warehouse(pub Dialect);

impl fmt::Display for Warehouse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Dialect::Postgres => "PostgreSQL",
            Dialect::Redshift => "Redshift",
        })
    }
}

/// The first line of `sql` that is not blank or a comment, shortened for messages.
pub fn first_line(sql: &str) -> String {
    let line = sql
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("--"))
        .unwrap_or("");
    let line = statement_body(line);
    match line.char_indices().nth(100) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_owned(),
    }
}

/// Builds the error for a failed statement.
pub fn statement_error<'a>(
    dialect: Dialect,
    table: Option<&'static str>,
    sql: &'a str,
) -> impl FnOnce(tokio_postgres::Error) -> ExecError + 'a {
    move |source| ExecError::statement(dialect, table, sql, ServerError::from_driver(&source))
}

impl ExecError {
    /// The error of statement `sql` (for `table`) that failed with `source`.
    pub fn statement(
        dialect: Dialect,
        table: Option<&'static str>,
        sql: &str,
        source: ServerError,
    ) -> ExecError {
        ExecError::Statement {
            warehouse: Warehouse(dialect),
            table,
            statement: first_line(sql),
            source,
        }
    }

    /// The SQLSTATE of a failed statement, if the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ExecError::Statement { source, .. } => source.code.as_deref(),
            _ => None,
        }
    }
}

/// The statements a session of `sql` starts with: its time limits, then its schema as the search
/// path (for checks and queries, whose table names are unqualified).
pub fn session_statements(sql: &Sql) -> Vec<String> {
    let mut out = sql.setup().to_vec();
    out.extend(sql.search_path());
    out
}

/// Runs a script of statements (BEGIN, COMMIT, DDL) for their effect.
pub async fn batch(
    client: &Client,
    dialect: Dialect,
    table: Option<&'static str>,
    sql: &str,
) -> Result<(), ExecError> {
    client
        .batch_execute(sql)
        .await
        .map_err(statement_error(dialect, table, sql))
}

/// A result set as text, the way the server prints each value (any type, NULL as `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TextRows {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of values.
    pub rows: Vec<Vec<Option<String>>>,
}

/// Runs one query with the simple protocol and returns its rows as text. Works for any column
/// type on PostgreSQL and Redshift alike, with no type lookups.
pub async fn query_text(
    client: &Client,
    dialect: Dialect,
    table: Option<&'static str>,
    sql: &str,
) -> Result<TextRows, ExecError> {
    let messages = client
        .simple_query(sql)
        .await
        .map_err(statement_error(dialect, table, sql))?;
    let mut out = TextRows::default();
    for m in messages {
        match m {
            SimpleQueryMessage::RowDescription(cols) => {
                out.columns = cols.iter().map(|c| c.name().to_owned()).collect();
            }
            SimpleQueryMessage::Row(row) => {
                if out.columns.is_empty() {
                    out.columns = row.columns().iter().map(|c| c.name().to_owned()).collect();
                }
                out.rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_owned))
                        .collect(),
                );
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Runs a query returning one row of counts.
pub async fn query_counts(
    client: &Client,
    dialect: Dialect,
    table: Option<&'static str>,
    sql: &str,
) -> Result<Vec<u64>, ExecError> {
    let rows = query_text(client, dialect, table, sql).await?;
    let unexpected = |reason: String| ExecError::Unexpected {
        warehouse: Warehouse(dialect),
        statement: first_line(sql),
        reason,
    };
    let [row] = rows.rows.as_slice() else {
        return Err(unexpected(format!("{} rows, expected 1", rows.rows.len())));
    };
    row.iter()
        .map(|v| {
            v.as_deref()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| unexpected(format!("{v:?} is not a count")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_skips_comments_and_shortens() {
        assert_eq!(first_line("-- a\n\n  SELECT 1;\nFROM x"), "SELECT 1");
        let long = format!("SELECT '{}'", "é".repeat(200));
        assert!(first_line(&long).ends_with('…'));
    }
}
