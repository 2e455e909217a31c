//! One connection type for both dialects: the [`Executor`] trait runs single statements on one
//! session, so that plans run the same way on a real server (PostgreSQL or Redshift, both over
//! the PostgreSQL protocol) and on a test's recording fake or emulation.
//!
//! A leaf: it depends on the driver only, so that [`super::exec`], [`super::shape`] and
//! [`super::postgres`] can all use it without depending on each other.

use std::future::Future;

use tokio_postgres::{Client, SimpleQueryMessage};

/// What one statement returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// The rows, every value as text (`None` for NULL).
    pub rows: Vec<Vec<Option<String>>>,
    /// The row count of the command tag (`DELETE 3`, `INSERT 0 5`), 0 when it carries none.
    pub affected: u64,
}

impl Reply {
    /// The first value of the first row, when there is one and it is not NULL.
    pub fn scalar(&self) -> Option<&str> {
        self.rows.first()?.first()?.as_deref()
    }
}

/// A statement that failed, as the server (or the driver) explained it: the `#[source]` of
/// [`super::exec::ExecError::Statement`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServerError {
    /// The SQLSTATE, when the server sent one.
    pub code: Option<String>,
    /// One line: the server's message with its SQLSTATE, detail and hint, or the driver's error.
    pub message: String,
}

/// Runs single statements on one session, in order.
///
/// Statements go over the simple query protocol: COPY takes no bind parameters anyway, and text
/// results spare the driver type look-ups in catalogs Redshift does not have.
pub trait Executor: Send {
    /// Runs one statement (ending in `;` or not) and returns its rows and row count.
    fn run(&mut self, sql: &str) -> impl Future<Output = Result<Reply, ServerError>> + Send;

    /// The PostgreSQL client behind this session, for what needs more than statement text: the
    /// binary `COPY … FROM STDIN` that stages sparkify's own parse. `None` (the default) for
    /// sessions that only run statements, as every Redshift plan does.
    fn client(&self) -> Option<&Client> {
        None
    }
}

impl ServerError {
    /// The error of a failed driver call: the server's SQLSTATE and explanation, or the driver's
    /// (no SQLSTATE: the connection was lost or never answered).
    pub fn from_driver(e: &tokio_postgres::Error) -> ServerError {
        ServerError {
            code: e.code().map(|c| c.code().to_owned()),
            message: describe(e),
        }
    }
}

impl Executor for Client {
    async fn run(&mut self, sql: &str) -> Result<Reply, ServerError> {
        let messages = self
            .simple_query(sql)
            .await
            .map_err(|e| ServerError::from_driver(&e))?;
        let mut reply = Reply::default();
        for message in messages {
            match message {
                SimpleQueryMessage::Row(row) => reply.rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_owned))
                        .collect(),
                ),
                SimpleQueryMessage::CommandComplete(n) => reply.affected = n,
                _ => {}
            }
        }
        Ok(reply)
    }

    fn client(&self) -> Option<&Client> {
        Some(self)
    }
}

/// One line explaining a driver error: the server's message, SQLSTATE, detail and hint when it is
/// a database error, otherwise the driver's message and its causes.
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
        if let Some(d) = db.detail() {
            s.push_str("; detail: ");
            s.push_str(d);
        }
        if let Some(h) = db.hint() {
            s.push_str("; hint: ");
            s.push_str(h);
        }
        return s;
    }
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}
