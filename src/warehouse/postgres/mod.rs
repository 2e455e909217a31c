//! The PostgreSQL target: connection settings, TLS policy, DDL and the transactional load.
//!
//! A load streams each table's Parquet files into a temporary stage table with
//! `COPY … FROM STDIN (FORMAT binary)`, checks the staged row counts, then replaces or merges the
//! final tables — all five inside one transaction, so a failure anywhere leaves the warehouse as
//! it was.
//!
//! Connection URLs follow libpq: `postgres://user:pass@host:port/db?sslmode=…`, with a Unix socket
//! directory given as `?host=/path` (or a percent-encoded host such as `%2Ftmp`). Passwords are held
//! in a [`Secret`] and never appear in `Debug`, `Display` or error messages.

mod copy;
mod ddl;
mod error;
mod load;
mod plan;
mod session;
mod target;
mod tls;
mod url;

pub use super::sql::WriteMode;
pub use crate::config::Secret;
pub(crate) use copy::pg_type;
pub use ddl::{create_tables, drop_tables, execute_ddl};
pub use error::{describe, PgError, Result};
pub use load::{load, load_with, LoadReport, TableData, TableLoad};
pub use plan::{load_script, load_steps};
pub use target::{PgHost, PgTarget, SslMode, DEFAULT_CONNECT_TIMEOUT, DEFAULT_PORT};
pub use tls::{CertCheck, ChannelBinding, ConnectPlan, RootCerts, Transport};
