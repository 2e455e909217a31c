//! Errors: what went wrong, naming the endpoint, table, file or statement, never a password.

use std::path::{Path, PathBuf};

use super::target::SslMode;
use crate::warehouse::exec::ExecError;
pub use crate::warehouse::server::describe;
use crate::warehouse::server::ServerError;
use crate::warehouse::sql::InvalidIdentifier;

/// Everything that can go wrong talking to PostgreSQL. Messages name the endpoint, table, file or
/// statement involved and never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The connection URL could not be parsed. `reason` never quotes the URL itself.
    #[error("invalid PostgreSQL URL: {reason}")]
    InvalidUrl {
        /// What is wrong.
        reason: String,
    },
    /// A remote server would be reached without TLS.
    #[error(
        "refusing to connect to PostgreSQL at {endpoint} with sslmode={sslmode}: the host is not \
         local, so the password and data would cross the network unencrypted; use \
         sslmode=verify-full (or sslmode=require), or explicitly allow an insecure connection"
    )]
    InsecureRemote {
        /// `host:port/db`.
        endpoint: String,
        /// The requested mode.
        sslmode: SslMode,
    },
    /// TLS could not be set up (bad root certificate file, no usable roots, …).
    #[error("TLS setup for PostgreSQL at {endpoint} failed: {reason}")]
    Tls {
        /// `host:port/db`.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// Connecting or authenticating failed.
    #[error("cannot connect to PostgreSQL at {endpoint} as {user}: {reason}")]
    Connect {
        /// `host:port/db`.
        endpoint: String,
        /// The user name.
        user: String,
        /// The server's or driver's explanation.
        reason: String,
        /// The driver error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A statement failed: the one statement error of every warehouse path
    /// ([`ExecError::Statement`]: dialect, table, first line, SQLSTATE and message).
    #[error(transparent)]
    Statement(#[from] ExecError),
    /// `COPY` of one Parquet file into a stage table failed.
    #[error("COPY of {} into stage table for {table} failed: {reason}", file.display())]
    Copy {
        /// Target table.
        table: &'static str,
        /// Parquet file being copied.
        file: PathBuf,
        /// The server's explanation.
        reason: String,
        /// The driver error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A Parquet file could not be opened or read.
    #[error("cannot read Parquet file {} for table {table}: {reason}", file.display())]
    ReadParquet {
        /// Target table.
        table: &'static str,
        /// The file.
        file: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A Parquet file's columns are not the table's.
    #[error("Parquet file {} does not match table {table}: {detail}", file.display())]
    SchemaMismatch {
        /// Target table.
        table: &'static str,
        /// The file.
        file: PathBuf,
        /// The first difference found.
        detail: String,
    },
    /// A value cannot be represented in PostgreSQL.
    #[error(
        "Parquet file {} for table {table}: row {row}, column {column}: {reason}",
        file.display()
    )]
    Value {
        /// Target table.
        table: &'static str,
        /// The file.
        file: PathBuf,
        /// Zero-based row within the file.
        row: u64,
        /// Column name.
        column: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// The rows staged differ from the rows read from Parquet.
    #[error(
        "row count mismatch for table {table}{}: read {read} rows from Parquet, staged {staged}",
        in_file(file.as_deref())
    )]
    RowCountMismatch {
        /// Target table.
        table: &'static str,
        /// The file, or `None` for the table's stage as a whole.
        file: Option<PathBuf>,
        /// Rows read from Parquet.
        read: u64,
        /// Rows the server reports staged.
        staged: u64,
    },
    /// The same table was passed twice, or a table that is not part of the star schema.
    #[error("invalid load request: {0}")]
    InvalidRequest(String),
    /// An invalid schema name.
    #[error(transparent)]
    Identifier(#[from] InvalidIdentifier),
    /// Committing the load failed; nothing was changed.
    #[error("COMMIT of the PostgreSQL load failed, nothing was changed: {reason}")]
    Commit {
        /// The server's explanation.
        reason: String,
        /// The server's error.
        #[source]
        source: ServerError,
    },
    /// An existing table is not shaped as the star schema; nothing was changed.
    #[error(transparent)]
    Shape(#[from] crate::warehouse::shape::ShapeError),
    /// The connection was lost during `COMMIT`: the server may or may not have committed.
    #[error(
        "the connection to PostgreSQL was lost during COMMIT ({reason}): the outcome is unknown; \
         rerun to converge (a rerun of the same input gives the same tables)"
    )]
    CommitUnknown {
        /// The driver's explanation.
        reason: String,
        /// The driver's error.
        #[source]
        source: ServerError,
    },
}

/// The error for a failed `COMMIT`: with an SQLSTATE the server answered and rolled back; without
/// one (connection closed, I/O error) nobody can tell whether it committed.
pub fn commit_error(source: ServerError) -> PgError {
    let reason = source.message.clone();
    if source.code.is_none() {
        PgError::CommitUnknown { reason, source }
    } else {
        PgError::Commit { reason, source }
    }
}

fn in_file(file: Option<&Path>) -> String {
    file.map(|f| format!(" in {}", f.display()))
        .unwrap_or_default()
}

/// Result type of this module.
pub type Result<T, E = PgError> = std::result::Result<T, E>;
