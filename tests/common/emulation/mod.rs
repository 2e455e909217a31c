//! A Redshift session emulated on the throwaway PostgreSQL 15 and the in-process S3 server.
//!
//! [`Emulator`] implements the loader's `Executor` (statement text in, rows and a row count out,
//! SQLSTATE on error) and sees nothing of the library but that text. Each statement is:
//!
//! - a `COPY`: emulated as Redshift runs it ([`copy`]): the manifest or prefix is read from the
//!   in-process S3 folder, checked entry by entry, the Parquet or JSON is mapped onto the table's
//!   columns (Parquet by position, JSON by name or JSONPaths), with Redshift's type and length
//!   rules, and inserted in one statement, so a failed COPY loads nothing;
//! - anything else: rewritten by [`redshift_sql`] (the one place where Redshift-only functions,
//!   clauses and system views get PostgreSQL equivalents, each citing the AWS page it follows) and
//!   run on one PostgreSQL session, whose transactions then behave as Redshift's do: an error
//!   inside `BEGIN` aborts the transaction (SQLSTATE 25P02 until `ROLLBACK`), `COMMIT` publishes
//!   everything at once, temporary tables live with the session.
//!
//! A failure can be injected at any statement ([`Emulator::fail_at`]): the statement is not run
//! and fails as a server error would (a failed `COMMIT` rolls the transaction back).
//!
//! [`harness`] is the tests' world around it (servers, reference loads, comparisons), not part of
//! the emulation.

#![allow(dead_code)]

mod copy;
pub mod harness;
mod json_copy;
mod objects;
mod parquet_copy;
mod redshift_sql;
mod statement;

use std::path::PathBuf;

use sparkify::warehouse::redshift::{Executor, Reply, ServerError};
use tokio_postgres::{Client, NoTls};

use self::statement::normalize;

/// An error as Redshift would report it, before it is raised on the PostgreSQL session.
#[derive(Debug, Clone)]
pub struct Failure {
    /// SQLSTATE.
    pub code: String,
    /// The message.
    pub message: String,
    /// Rows for the load-error views (`stl_load_errors`, `sys_load_error_detail`).
    pub load_errors: Vec<LoadError>,
    /// Already an error of the PostgreSQL session (its transaction state is already right).
    pub server: Option<ServerError>,
}

/// One row of the load-error views.
#[derive(Debug, Clone)]
pub struct LoadError {
    /// The S3 object.
    pub file: String,
    /// 1-based line (JSON) or row (Parquet) of the object, 0 when unknown.
    pub line: i64,
    /// The column.
    pub column: String,
    /// Its type.
    pub column_type: String,
    /// Redshift's load error code (1204 over-long string, 1207 invalid digit, 15007 Spectrum).
    pub code: i32,
    /// A Spectrum (Parquet) scan error rather than a load error of a text or JSON COPY.
    pub spectrum: bool,
    /// The reason.
    pub reason: String,
}

/// A Redshift-style error without load-error rows.
pub fn redshift_error(code: &str, message: impl Into<String>) -> Failure {
    Failure {
        code: code.to_owned(),
        message: message.into(),
        load_errors: Vec::new(),
        server: None,
    }
}

impl From<ServerError> for Failure {
    fn from(e: ServerError) -> Failure {
        Failure {
            code: e.code.clone().unwrap_or_default(),
            message: e.message.clone(),
            load_errors: Vec::new(),
            server: Some(e),
        }
    }
}

/// The emulated session.
pub struct Emulator {
    /// The session's connection: every statement runs here.
    session: Client,
    /// A second connection for what Redshift writes outside the session's transaction (the
    /// load-error log) and for reading committed tables.
    system: Client,
    session_pid: i32,
    /// The in-process S3 server's folder: `<root>/<bucket>/<key>`.
    s3_root: PathBuf,
    /// The cluster's AWS region.
    pub cluster_region: String,
    /// Buckets in another region than the cluster's: (bucket, region).
    pub bucket_regions: Vec<(String, String)>,
    in_transaction: bool,
    last_copy_count: i64,
    last_copy_id: i64,
    next_query_id: i64,
    /// Fails the statement with this 0-based index (counted over the emulator's life).
    pub fail_at: Option<usize>,
    /// Statements received so far.
    pub statements: usize,
    /// Every statement received, as sent.
    pub log: Vec<String>,
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

impl Emulator {
    /// A session on the PostgreSQL database at `url` (which gets the emulation's system schema),
    /// reading S3 objects from `s3_root`, for a cluster in `cluster_region`.
    pub async fn connect(url: &str, s3_root: impl Into<PathBuf>, cluster_region: &str) -> Self {
        let system = connect(url).await;
        system
            .batch_execute(redshift_sql::SETUP)
            .await
            .unwrap_or_else(|e| panic!("emulation setup: {e:?}"));
        let session = connect(url).await;
        session
            .batch_execute(redshift_sql::SESSION)
            .await
            .expect("session settings");
        let session_pid = session
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .expect("backend pid")
            .get(0);
        Emulator {
            session,
            system,
            session_pid,
            s3_root: s3_root.into(),
            cluster_region: cluster_region.to_owned(),
            bucket_regions: Vec::new(),
            in_transaction: false,
            last_copy_count: -1,
            last_copy_id: -1,
            next_query_id: 1000,
            fail_at: None,
            statements: 0,
            log: Vec::new(),
        }
    }

    /// A connection that sees only committed data (for reading the tables).
    pub fn reader(&self) -> &Client {
        &self.system
    }

    /// The region of `bucket`.
    fn region_of(&self, bucket: &str) -> &str {
        self.bucket_regions
            .iter()
            .find(|(b, _)| b == bucket)
            .map_or(self.cluster_region.as_str(), |(_, r)| r.as_str())
    }

    /// Runs PostgreSQL text on the session.
    async fn pg(&mut self, sql: &str) -> Result<Reply, ServerError> {
        Executor::run(&mut self.session, sql).await
    }

    /// Raises `failure` on the session (so that an open transaction is aborted, as Redshift
    /// aborts it) and returns the resulting error.
    async fn raise(&mut self, failure: Failure) -> ServerError {
        if let Some(e) = failure.server {
            return e;
        }
        if !failure.load_errors.is_empty() {
            self.log_load_errors(&failure.load_errors).await;
        }
        let raise = format!(
            "SELECT emulation_sys.raise({}, {})",
            literal(&failure.code),
            literal(&failure.message)
        );
        match self.pg(&raise).await {
            Err(e) => e,
            Ok(_) => unreachable!("emulation_sys.raise always raises"),
        }
    }

    /// Writes load-error rows from the system connection: Redshift's system log is not part of
    /// the session's transaction, so a rollback keeps them.
    async fn log_load_errors(&mut self, rows: &[LoadError]) {
        self.last_copy_id = self.next_query_id;
        for r in rows {
            let sql = format!(
                "INSERT INTO emulation_sys.load_errors (session_id, query, file_name, line_number, \
                 column_name, column_type, error_code, error_message, spectrum) VALUES ({}, {}, {}, \
                 {}, {}, {}, {}, {}, {})",
                self.session_pid,
                self.last_copy_id,
                literal(&r.file),
                r.line,
                literal(&r.column),
                literal(&r.column_type),
                r.code,
                literal(&r.reason),
                r.spectrum
            );
            self.system
                .batch_execute(&sql)
                .await
                .expect("write the load-error log");
        }
    }

    async fn dispatch(&mut self, s: &str) -> Result<Reply, ServerError> {
        let upper = s.to_ascii_uppercase();
        if let Some(rest) = s.strip_prefix("COPY ").or_else(|| s.strip_prefix("copy ")) {
            self.next_query_id += 1;
            return match copy::run(self, rest).await {
                Ok(n) => {
                    self.last_copy_count = n as i64;
                    self.last_copy_id = self.next_query_id;
                    Ok(Reply {
                        rows: vec![],
                        affected: n,
                    })
                }
                Err(f) => {
                    self.last_copy_count = 0;
                    self.last_copy_id = self.next_query_id;
                    Err(self.raise(f).await)
                }
            };
        }
        match redshift_sql::to_postgres(
            s,
            &upper,
            self.in_transaction,
            self.last_copy_count,
            self.last_copy_id,
        ) {
            Ok(redshift_sql::Plan::Run(text)) => self.pg(&text).await,
            Ok(redshift_sql::Plan::CommitFirst(text)) => {
                self.pg("COMMIT").await?;
                self.in_transaction = false;
                self.pg(&text).await
            }
            Err(f) => Err(self.raise(f).await),
        }
    }
}

/// A PostgreSQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Executor for Emulator {
    async fn run(&mut self, sql: &str) -> Result<Reply, ServerError> {
        self.log.push(sql.to_owned());
        let index = self.statements;
        self.statements += 1;
        let s = normalize(sql);
        let first = s
            .split([' ', ';'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let ends = matches!(first.as_str(), "COMMIT" | "END" | "ROLLBACK" | "ABORT");
        let result = if self.fail_at == Some(index) {
            let message = format!("emulation: failure injected at statement {index}");
            if ends && self.in_transaction {
                // A COMMIT that fails ends the transaction, rolled back (e.g. a serializable
                // isolation violation, reported at COMMIT).
                let _ = self.pg("ROLLBACK").await;
                self.in_transaction = false;
                Err(ServerError {
                    code: Some("40001".into()),
                    message: format!("ERROR: {message} (SQLSTATE 40001)"),
                })
            } else {
                Err(self.raise(redshift_error("XX000", message)).await)
            }
        } else {
            self.dispatch(&s).await
        };
        if matches!(first.as_str(), "BEGIN" | "START") && result.is_ok() {
            self.in_transaction = true;
        } else if ends {
            self.in_transaction = false;
        }
        result
    }
}
