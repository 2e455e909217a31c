//! Ad-hoc SQL (`sparkify query --sql …` / `--sql-file F`): one read-only query, on any target.
//!
//! Three guards, so that a query typed at a prompt can never change a warehouse:
//! 1. [`AdHoc::new`] accepts exactly one statement that starts as a query does (`SELECT`, `WITH`,
//!    `VALUES`, `TABLE`, `SHOW`, `EXPLAIN`, or `(`), read with a SQL tokenizer, so a `;` inside a
//!    string or comment is not a second statement and `SELECT 1; DROP TABLE users` is refused
//!    before anything is sent;
//! 2. on PostgreSQL and Redshift it runs inside `BEGIN READ ONLY` … `ROLLBACK` ([`execute_read_only`];
//!    both document that syntax, Redshift at
//!    <https://docs.aws.amazon.com/redshift/latest/dg/r_BEGIN.html>), so a writing CTE or function
//!    is refused by the server;
//! 3. locally, DataFusion's `SQLOptions` refuse DDL, DML and `COPY` (see [`super::local`]).

use std::path::Path;

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, TokenizerError};
use serde::Serialize;
use tokio_postgres::Client;

use super::exec::{batch, query_text, ExecError, TextRows};
use super::sql::Dialect;

/// The words a read-only query may start with.
const QUERY_STARTS: [&str; 6] = ["SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN"];

/// Why ad-hoc SQL was refused before it ran.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdHocError {
    /// The `--sql-file` cannot be read.
    #[error("cannot read --sql-file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The text cannot be split into SQL tokens (an unterminated string or comment).
    #[error("cannot read the SQL: {0}")]
    Unreadable(#[source] TokenizerError),
    /// No statement at all.
    #[error("the SQL is empty")]
    Empty,
    /// More than one statement.
    #[error("--sql runs one query; found another statement after `;`")]
    NotOneStatement,
    /// A statement that is not a query.
    #[error(
        "--sql runs read-only queries (SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN), not `{0}`"
    )]
    NotAQuery(String),
}

/// One read-only query, checked by [`AdHoc::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdHoc(String);

impl AdHoc {
    /// Accepts `sql` when it is one statement (a trailing `;` allowed) that starts like a query.
    pub fn new(sql: &str) -> Result<AdHoc, AdHocError> {
        let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
            .tokenize()
            .map_err(AdHocError::Unreadable)?;
        let mut tokens: Vec<Token> = tokens
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
            .collect();
        while tokens.last() == Some(&Token::SemiColon) {
            tokens.pop();
        }
        if tokens.contains(&Token::SemiColon) {
            return Err(AdHocError::NotOneStatement);
        }
        match tokens.first() {
            None => Err(AdHocError::Empty),
            Some(Token::LParen) => Ok(AdHoc(sql.to_owned())),
            Some(Token::Word(w))
                if w.quote_style.is_none()
                    && QUERY_STARTS.contains(&w.value.to_ascii_uppercase().as_str()) =>
            {
                Ok(AdHoc(sql.to_owned()))
            }
            Some(other) => Err(AdHocError::NotAQuery(other.to_string())),
        }
    }

    /// Reads and checks the query in `path`.
    pub fn from_file(path: &Path) -> Result<AdHoc, AdHocError> {
        let sql = std::fs::read_to_string(path).map_err(|source| AdHocError::File {
            path: path.display().to_string(),
            source,
        })?;
        AdHoc::new(&sql)
    }

    /// The statement.
    pub fn sql(&self) -> &str {
        &self.0
    }
}

/// An ad-hoc query's result, for `--json`: the statement, then columns and rows as text (the shape
/// of a named query's result).
#[derive(Debug, Clone, Serialize)]
pub struct AdHocResult {
    /// The statement as given.
    pub sql: String,
    /// Columns and rows.
    #[serde(flatten)]
    pub rows: TextRows,
}

/// Runs `query` on a PostgreSQL or Redshift connection inside a read-only transaction, rolled back
/// afterwards whatever happened.
pub async fn execute_read_only(
    client: &Client,
    dialect: Dialect,
    query: &AdHoc,
) -> Result<TextRows, ExecError> {
    batch(client, dialect, None, "BEGIN READ ONLY").await?;
    let result = query_text(client, dialect, None, query.sql()).await;
    let rollback = batch(client, dialect, None, "ROLLBACK").await;
    let rows = result?;
    rollback?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_query_is_accepted() {
        for sql in [
            "SELECT 1",
            "select 1;",
            "  -- a comment; with a semicolon\nSELECT ';' AS x; ;",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "(SELECT 1) UNION (SELECT 2)",
            "/* lead */ VALUES (1)",
            "EXPLAIN SELECT 1",
            "SHOW TABLES",
        ] {
            assert_eq!(AdHoc::new(sql).unwrap().sql(), sql);
        }
    }

    #[test]
    fn writes_and_second_statements_are_refused() {
        let refused = |sql: &str| AdHoc::new(sql).unwrap_err().to_string();
        assert!(refused("SELECT 1; DROP TABLE users").contains("one query"));
        assert!(refused("SELECT 1;\nCOMMIT;").contains("one query"));
        for sql in [
            "DROP TABLE users",
            "insert into users values (1)",
            "COPY users TO '/tmp/x'",
            "UNLOAD ('select 1') TO 's3://b/p'",
            "BEGIN",
            "SET search_path = x",
            "\"SELECT\" 1",
        ] {
            assert!(refused(sql).contains("read-only queries"), "{sql}");
        }
        assert!(matches!(AdHoc::new(" -- only\n"), Err(AdHocError::Empty)));
        assert!(matches!(
            AdHoc::new("SELECT 'open"),
            Err(AdHocError::Unreadable(_))
        ));
    }
}
