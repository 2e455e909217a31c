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

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Float64Type, Int32Type, Int64Type, SchemaRef, TimestampMicrosecondType,
};
use bytes::{BufMut, BytesMut};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{Client, Connection, NoTls, Transaction};

pub use super::sql::WriteMode;
use super::sql::{statement_body, Dialect, Ident, InvalidIdentifier, Sql};
use crate::schema::{ColumnType, Table, TABLES};

/// Default PostgreSQL port.
pub const DEFAULT_PORT: u16 = 5432;
/// Connect timeout applied when the URL sets none.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Record batch size used when streaming Parquet files into `COPY`.
const BATCH_ROWS: usize = 8192;
/// Microseconds from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

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
    /// A statement failed.
    #[error("PostgreSQL statement failed{}: `{statement}`: {reason}", on_table(*table))]
    Statement {
        /// The table the statement was for, if any.
        table: Option<&'static str>,
        /// The first line of the statement.
        statement: String,
        /// The server's explanation.
        reason: String,
        /// The driver error.
        #[source]
        source: tokio_postgres::Error,
    },
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
        /// The driver error.
        #[source]
        source: tokio_postgres::Error,
    },
}

fn on_table(table: Option<&str>) -> String {
    table.map(|t| format!(" for table {t}")).unwrap_or_default()
}

fn in_file(file: Option<&Path>) -> String {
    file.map(|f| format!(" in {}", f.display()))
        .unwrap_or_default()
}

/// Result type of this module.
pub type Result<T, E = PgError> = std::result::Result<T, E>;

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

/// The first line of a statement, without its `;`, cut to 100 bytes: enough to name it in an error.
pub(crate) fn first_line(sql: &str) -> String {
    let line = sql.lines().next().unwrap_or("").trim();
    let line = statement_body(line);
    if line.len() > 100 {
        let mut end = 100;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &line[..end])
    } else {
        line.to_owned()
    }
}

fn statement_error<'a>(
    table: Option<&'static str>,
    sql: &'a str,
) -> impl FnOnce(tokio_postgres::Error) -> PgError + 'a {
    move |source| PgError::Statement {
        table,
        statement: first_line(sql),
        reason: describe(&source),
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// Connection settings
// ---------------------------------------------------------------------------------------------

pub use crate::config::Secret;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Plain first, TLS only if the server insists (treated like `prefer` here).
    Allow,
    /// TLS if the server offers it, plain otherwise (libpq's default).
    #[default]
    Prefer,
    /// TLS always; the certificate is not verified (libpq semantics) unless `sslrootcert` is set,
    /// in which case the chain is verified as for `verify-ca`.
    Require,
    /// TLS always; the certificate must chain to a trusted root.
    VerifyCa,
    /// TLS always; the certificate must chain to a trusted root and name the host.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether this mode guarantees an encrypted connection.
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = PgError;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(PgError::InvalidUrl {
                    reason: "sslmode must be one of disable, allow, prefer, require, verify-ca, \
                             verify-full"
                        .into(),
                })
            }
        })
    }
}

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgHost {
    /// A host name or IP address.
    Tcp(String),
    /// A directory holding the server's Unix socket (`.s.PGSQL.<port>`).
    Unix(PathBuf),
}

impl PgHost {
    /// Whether the host is this machine: `localhost`, a loopback address or a Unix socket. Names are
    /// not resolved, so other names for this machine count as remote.
    pub fn is_local(&self) -> bool {
        match self {
            PgHost::Unix(_) => true,
            PgHost::Tcp(h) => {
                h.eq_ignore_ascii_case("localhost")
                    || h.parse::<IpAddr>()
                        .is_ok_and(|ip| ip.to_canonical().is_loopback())
            }
        }
    }
}

impl fmt::Display for PgHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgHost::Tcp(h) if h.contains(':') => write!(f, "[{h}]"),
            PgHost::Tcp(h) => f.write_str(h),
            PgHost::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// Mozilla's root store compiled into the binary (`webpki-roots`); also `sslrootcert=system`.
    Bundled,
    /// A PEM file (`sslrootcert=/path/to/ca.pem`), e.g. the Amazon RDS bundle.
    File(PathBuf),
}

/// How the server certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertCheck {
    /// Not at all: encryption without authentication (`sslmode=require` without `sslrootcert`).
    None,
    /// The chain must lead to a trusted root (`verify-ca`).
    Chain,
    /// The chain must lead to a trusted root and the certificate must name the host (`verify-full`).
    ChainAndHost,
}

/// How the connection will be transported, decided before any network traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// No TLS.
    Plain,
    /// TLS.
    Tls {
        /// Certificate checking.
        check: CertCheck,
        /// Trusted roots (unused with [`CertCheck::None`]).
        roots: RootCerts,
        /// Whether a server without TLS is accepted (`prefer` with an explicit insecure opt-in).
        fallback_to_plain: bool,
    },
}

/// The resolved plan for a connection: what will be contacted, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectPlan {
    /// `host:port/db`, for messages.
    pub endpoint: String,
    /// Whether the host is this machine.
    pub local: bool,
    /// Plain or TLS.
    pub transport: Transport,
}

/// A PostgreSQL connection target parsed from a URL.
///
/// `Debug` and `Display` never show the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTarget {
    host: PgHost,
    port: u16,
    user: String,
    password: Option<Secret>,
    dbname: String,
    sslmode: SslMode,
    sslrootcert: Option<RootCerts>,
    application_name: String,
    connect_timeout: Duration,
    allow_insecure_remote: bool,
}

impl PgTarget {
    /// Parses `postgres://user:pass@host:port/db?sslmode=…` (or `postgresql://`).
    ///
    /// Supported query parameters: `host` (a path starting with `/` is a Unix socket directory),
    /// `port`, `user`, `password`, `dbname`, `sslmode`, `sslrootcert`, `application_name`,
    /// `connect_timeout` (seconds). Components are percent-decoded; reserved characters in the
    /// password (`@ / ? # %`) should be percent-encoded.
    pub fn parse(url: &str) -> Result<PgTarget> {
        parse_url(url)
    }

    /// A target from its parts, as a config file gives them: `sslmode=prefer` (libpq's default),
    /// no password, the default connect timeout.
    pub fn new(
        host: PgHost,
        port: u16,
        user: impl Into<String>,
        dbname: impl Into<String>,
    ) -> PgTarget {
        PgTarget {
            host,
            port,
            user: user.into(),
            password: None,
            dbname: dbname.into(),
            sslmode: SslMode::default(),
            sslrootcert: None,
            application_name: "sparkify".to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            allow_insecure_remote: false,
        }
    }

    /// Sets the `sslmode`.
    pub fn with_sslmode(mut self, sslmode: SslMode) -> PgTarget {
        self.sslmode = sslmode;
        self
    }

    /// Sets where trusted root certificates come from (`sslrootcert`).
    pub fn with_root_certs(mut self, roots: RootCerts) -> PgTarget {
        self.sslrootcert = Some(roots);
        self
    }

    /// Sets the `application_name` sent at startup; an empty name sends none (some servers, such
    /// as older Redshift releases, reject the parameter).
    pub fn with_application_name(mut self, name: impl Into<String>) -> PgTarget {
        self.application_name = name.into();
        self
    }

    /// Sets (or replaces) the password, e.g. from an environment variable.
    pub fn with_password(mut self, password: Secret) -> PgTarget {
        self.password = Some(password);
        self
    }

    /// Allows a non-local server to be reached without guaranteed TLS. Off by default.
    pub fn allow_insecure_remote(mut self, allow: bool) -> PgTarget {
        self.allow_insecure_remote = allow;
        self
    }

    /// The host.
    pub fn host(&self) -> &PgHost {
        &self.host
    }

    /// The port (also names the Unix socket file).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The database name.
    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// The requested `sslmode`.
    pub fn sslmode(&self) -> SslMode {
        self.sslmode
    }

    /// Whether a password is set.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// `host:port/db`, for messages.
    pub fn endpoint(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.dbname)
    }

    /// Decides how to connect, without connecting: local hosts may be plain; a remote host needs
    /// `sslmode=require` or `verify-*` unless insecure connections were explicitly allowed.
    pub fn plan(&self) -> Result<ConnectPlan> {
        let local = self.host.is_local();
        let endpoint = self.endpoint();
        let roots = self.sslrootcert.clone().unwrap_or(RootCerts::Bundled);
        let transport = match self.sslmode {
            SslMode::Require => Transport::Tls {
                check: if self.sslrootcert.is_some() {
                    CertCheck::Chain
                } else {
                    CertCheck::None
                },
                roots,
                fallback_to_plain: false,
            },
            SslMode::VerifyCa => Transport::Tls {
                check: CertCheck::Chain,
                roots,
                fallback_to_plain: false,
            },
            SslMode::VerifyFull => Transport::Tls {
                check: CertCheck::ChainAndHost,
                roots,
                fallback_to_plain: false,
            },
            SslMode::Disable | SslMode::Allow | SslMode::Prefer if local => Transport::Plain,
            _ if !self.allow_insecure_remote => {
                return Err(PgError::InsecureRemote {
                    endpoint,
                    sslmode: self.sslmode,
                })
            }
            SslMode::Disable => Transport::Plain,
            SslMode::Allow | SslMode::Prefer => Transport::Tls {
                check: CertCheck::None,
                roots,
                fallback_to_plain: true,
            },
        };
        if let (Transport::Tls { .. }, PgHost::Unix(_)) = (&transport, &self.host) {
            return Err(PgError::Tls {
                endpoint,
                reason: format!(
                    "sslmode={} cannot be used with a Unix socket; use sslmode=disable or a TCP host",
                    self.sslmode
                ),
            });
        }
        Ok(ConnectPlan {
            endpoint,
            local,
            transport,
        })
    }

    /// The driver configuration (holds the password; do not log it — its `Debug` redacts it).
    pub fn config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        match &self.host {
            PgHost::Tcp(h) => c.host(h),
            PgHost::Unix(p) => c.host_path(p),
        };
        c.port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .connect_timeout(self.connect_timeout);
        if !self.application_name.is_empty() {
            c.application_name(&self.application_name);
        }
        if let Some(p) = &self.password {
            c.password(p.expose());
        }
        c
    }

    /// Connects according to [`PgTarget::plan`] and drives the connection on the current Tokio
    /// runtime. Errors name `host:port/db` and the user, never the password.
    pub async fn connect(&self) -> Result<Client> {
        let plan = self.plan()?;
        let mut config = self.config();
        let connect_error = |source: tokio_postgres::Error| PgError::Connect {
            endpoint: plan.endpoint.clone(),
            user: self.user.clone(),
            reason: describe(&source),
            source,
        };
        match &plan.transport {
            Transport::Plain => {
                config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                let (client, connection) = config.connect(NoTls).await.map_err(connect_error)?;
                spawn_connection(plan.endpoint.clone(), connection);
                Ok(client)
            }
            Transport::Tls {
                check,
                roots,
                fallback_to_plain,
            } => {
                if *check == CertCheck::None && !plan.local {
                    tracing::warn!(
                        endpoint = %plan.endpoint,
                        "TLS without certificate verification (sslmode={}); use sslmode=verify-full \
                         to authenticate the server",
                        self.sslmode
                    );
                }
                config.ssl_mode(if *fallback_to_plain {
                    tokio_postgres::config::SslMode::Prefer
                } else {
                    tokio_postgres::config::SslMode::Require
                });
                let tls = tls::connector(*check, roots).map_err(|reason| PgError::Tls {
                    endpoint: plan.endpoint.clone(),
                    reason,
                })?;
                let (client, connection) = config.connect(tls).await.map_err(connect_error)?;
                spawn_connection(plan.endpoint.clone(), connection);
                Ok(client)
            }
        }
    }
}

fn spawn_connection<S, T>(endpoint: String, connection: Connection<S, T>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(
                %endpoint,
                error = %describe(&e),
                "PostgreSQL connection ended with an error"
            );
        }
    });
}

impl FromStr for PgTarget {
    type Err = PgError;

    fn from_str(s: &str) -> Result<Self> {
        PgTarget::parse(s)
    }
}

impl fmt::Display for PgTarget {
    /// The URL with the password shown as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pw = if self.password.is_some() { ":***" } else { "" };
        match &self.host {
            PgHost::Tcp(_) => write!(
                f,
                "postgres://{}{pw}@{}:{}/{}?sslmode={}",
                self.user, self.host, self.port, self.dbname, self.sslmode
            ),
            PgHost::Unix(p) => write!(
                f,
                "postgres://{}{pw}@/{}?host={}&port={}&sslmode={}",
                self.user,
                self.dbname,
                p.display(),
                self.port,
                self.sslmode
            ),
        }
    }
}

fn invalid(reason: impl Into<String>) -> PgError {
    PgError::InvalidUrl {
        reason: reason.into(),
    }
}

/// Percent-decodes `s`; `what` names the component in errors (the text itself is never quoted).
fn decode(s: &str, what: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid(format!("bad percent-encoding in the {what}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid(format!("the {what} is not valid UTF-8")))
}

fn parse_host(s: &str) -> Result<PgHost> {
    if s.contains(',') {
        return Err(invalid("multiple hosts are not supported"));
    }
    if s.starts_with('/') {
        Ok(PgHost::Unix(PathBuf::from(s)))
    } else if s.is_empty() {
        Err(invalid("the host is empty"))
    } else {
        Ok(PgHost::Tcp(s.to_owned()))
    }
}

fn parse_port(s: &str) -> Result<u16> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(invalid("the port must be a number from 1 to 65535")),
    }
}

fn parse_url(url: &str) -> Result<PgTarget> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or_else(|| invalid("it must start with postgres:// or postgresql://"))?;
    if rest.contains('#') {
        return Err(invalid(
            "a fragment (#) is not allowed; percent-encode # in a password as %23",
        ));
    }

    // Authority ends at the first '/'; without a path, at the first '?'. Credentials end at the
    // last '@' of the authority, so an unencoded '@' or '?' in a password still parses.
    let auth_end = rest
        .find('/')
        .or_else(|| {
            let at = rest.rfind('@').map_or(0, |i| i + 1);
            rest[at..].find('?').map(|q| q + at)
        })
        .unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let (creds, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };

    let mut user = None;
    let mut password = None;
    if let Some(creds) = creds {
        let (u, p) = match creds.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (creds, None),
        };
        if !u.is_empty() {
            user = Some(decode(u, "user name")?);
        }
        if let Some(p) = p {
            password = Some(Secret::new(decode(p, "password")?));
        }
    }

    let mut host = None;
    let mut port = None;
    if !hostport.is_empty() {
        let (h, p) = if let Some(v6) = hostport.strip_prefix('[') {
            let close = v6
                .find(']')
                .ok_or_else(|| invalid("unterminated [ in the host"))?;
            let after = &v6[close + 1..];
            let p = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(invalid("unexpected text after ] in the host")),
            };
            (v6[..close].to_owned(), p)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (decode(h, "host")?, Some(p)),
                None => (decode(hostport, "host")?, None),
            }
        };
        if !h.is_empty() {
            host = Some(parse_host(&h)?);
        }
        if let Some(p) = p.filter(|p| !p.is_empty()) {
            port = Some(parse_port(p)?);
        }
    }

    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let mut dbname = match path.strip_prefix('/') {
        Some(db) if !db.is_empty() => Some(decode(db, "database name")?),
        _ => None,
    };

    let mut sslmode = SslMode::default();
    let mut sslrootcert = None;
    let mut application_name = None;
    let mut connect_timeout = None;
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| invalid("a query parameter has no value (expected key=value)"))?;
        let key = decode(k, "parameter name")?;
        let value = decode(v, "parameter value")?;
        match key.as_str() {
            "host" => host = Some(parse_host(&value)?),
            "port" => port = Some(parse_port(&value)?),
            "user" => user = Some(value),
            "password" => password = Some(Secret::new(value)),
            "dbname" => dbname = Some(value),
            "sslmode" => sslmode = value.parse()?,
            "sslrootcert" => {
                sslrootcert = Some(if value == "system" {
                    RootCerts::Bundled
                } else {
                    RootCerts::File(PathBuf::from(value))
                })
            }
            "application_name" => application_name = Some(value),
            "connect_timeout" => {
                let secs: u64 = value
                    .parse()
                    .map_err(|_| invalid("connect_timeout must be a whole number of seconds"))?;
                connect_timeout = Some(Duration::from_secs(secs));
            }
            other => {
                let shown = if !other.is_empty()
                    && other.len() <= 40
                    && other
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    format!("`{other}`")
                } else {
                    "(name not shown)".to_owned()
                };
                return Err(invalid(format!(
                    "unsupported connection parameter {shown}; supported: host, port, user, \
                     password, dbname, sslmode, sslrootcert, application_name, connect_timeout"
                )));
            }
        }
    }

    let host = host.ok_or_else(|| invalid("no host given (postgres://user@host/db)"))?;
    let user = user.ok_or_else(|| invalid("no user given (postgres://user@host/db)"))?;
    let dbname = dbname.unwrap_or_else(|| user.clone());
    let mut target = PgTarget::new(host, port.unwrap_or(DEFAULT_PORT), user, dbname);
    target.password = password;
    target.sslmode = sslmode;
    target.sslrootcert = sslrootcert;
    if let Some(name) = application_name {
        target.application_name = name;
    }
    match connect_timeout {
        // libpq: 0 means wait forever; keep a generous upper bound instead of hanging.
        Some(d) if d.is_zero() => target.connect_timeout = Duration::from_secs(3600),
        Some(d) => target.connect_timeout = d,
        None => {}
    }
    Ok(target)
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

mod tls {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::WebPkiServerVerifier;
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
    use tokio_postgres_rustls::MakeRustlsConnect;

    use super::{CertCheck, RootCerts};

    /// Builds the TLS connector for a plan. Errors are plain text for [`super::PgError::Tls`].
    pub(super) fn connector(
        check: CertCheck,
        roots: &RootCerts,
    ) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let config = match check {
            CertCheck::None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
                .with_no_client_auth(),
            CertCheck::Chain | CertCheck::ChainAndHost => {
                let store = root_store(roots)?;
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
                    .build()
                    .map_err(|e| e.to_string())?;
                if check == CertCheck::ChainAndHost {
                    builder.with_webpki_verifier(webpki).with_no_client_auth()
                } else {
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                        .with_no_client_auth()
                }
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }

    fn root_store(roots: &RootCerts) -> Result<RootCertStore, String> {
        match roots {
            RootCerts::Bundled => Ok(webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect()),
            RootCerts::File(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
                let mut store = RootCertStore::empty();
                let (added, _ignored) = store.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(format!(
                        "sslrootcert {} holds no usable certificate",
                        path.display()
                    ));
                }
                Ok(store)
            }
        }
    }

    /// `verify-ca`: the chain must be trusted; the host name is not checked.
    #[derive(Debug)]
    struct ChainOnly(Arc<WebPkiServerVerifier>);

    impl ServerCertVerifier for ChainOnly {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            match self.0.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Err(Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }

    /// `require` without a root certificate (libpq semantics): encrypted, server not
    /// authenticated. Handshake signatures are still checked against the presented certificate.
    #[derive(Debug)]
    struct Unverified(Arc<CryptoProvider>);

    impl ServerCertVerifier for Unverified {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DDL
// ---------------------------------------------------------------------------------------------

/// Creates the schema (when given) and all tables if they do not exist, in one transaction.
pub async fn create_tables(client: &mut Client, schema: Option<&Ident>) -> Result<()> {
    let sql = Sql::new(Dialect::Postgres, schema.cloned());
    run_ddl(client, &sql.create_tables()).await
}

/// Drops all tables if they exist (the schema is kept), in one transaction.
pub async fn drop_tables(client: &mut Client, schema: Option<&Ident>) -> Result<()> {
    let sql = Sql::new(Dialect::Postgres, schema.cloned());
    run_ddl(client, &sql.drop_tables()).await
}

async fn run_ddl(client: &mut Client, statements: &[String]) -> Result<()> {
    let tx = client
        .transaction()
        .await
        .map_err(statement_error(None, "BEGIN"))?;
    for s in statements {
        tx.batch_execute(s)
            .await
            .map_err(statement_error(None, s))?;
    }
    tx.commit().await.map_err(|source| PgError::Commit {
        reason: describe(&source),
        source,
    })
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

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
/// for `users` the row with the newer `level_at` wins). With [`WriteMode::Replace`], a table given
/// with no files ends up empty. Any error rolls everything back.
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
    let tx = client
        .transaction()
        .await
        .map_err(statement_error(None, "BEGIN"))?;
    match load_in(&tx, sql, &ordered, mode).await {
        Ok(report) => {
            tx.commit().await.map_err(|source| PgError::Commit {
                reason: describe(&source),
                source,
            })?;
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

/// The PostgreSQL type a column is sent as in binary `COPY`.
fn pg_type(ty: ColumnType) -> Type {
    match ty {
        ColumnType::BigInt => Type::INT8,
        ColumnType::Integer => Type::INT4,
        ColumnType::Double => Type::FLOAT8,
        ColumnType::Timestamp => Type::TIMESTAMP,
        ColumnType::Varchar(_) => Type::VARCHAR,
    }
}

/// Copies one Parquet file into the stage; returns the rows read (verified against the server's
/// count).
async fn copy_file(
    tx: &Transaction<'_>,
    table: &'static Table,
    file: &Path,
    copy_sql: &str,
) -> Result<u64> {
    let mut batches = BatchReader::spawn(table, file.to_path_buf());
    // Wait for the file to open and its schema to check out before starting COPY.
    let first = batches.next().await?;

    let copy_error = |source: tokio_postgres::Error| PgError::Copy {
        table: table.name,
        file: file.to_path_buf(),
        reason: describe(&source),
        source,
    };
    let sink = tx.copy_in(copy_sql).await.map_err(copy_error)?;
    let types: Vec<Type> = table.columns.iter().map(|c| pg_type(c.ty)).collect();
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);

    // Dropping the writer on an early return aborts the COPY (CopyFail); the caller rolls back.
    let mut read = 0u64;
    let mut next = first;
    while let Some(batch) = next {
        write_batch(writer.as_mut(), table, file, &batch, read).await?;
        read += batch.num_rows() as u64;
        next = batches.next().await?;
    }
    let staged = writer.as_mut().finish().await.map_err(copy_error)?;
    if staged != read {
        return Err(PgError::RowCountMismatch {
            table: table.name,
            file: Some(file.to_path_buf()),
            read,
            staged,
        });
    }
    tracing::debug!(table = table.name, file = %file.display(), rows = read, "copied");
    Ok(read)
}

/// Reads a Parquet file on a blocking thread, handing its batches over through a small channel so
/// that reading and `COPY` overlap and memory stays bounded.
struct BatchReader {
    rx: mpsc::Receiver<Result<RecordBatch>>,
    /// Joined once the channel closes, so that a reader that died early is an error rather than a
    /// silently short file.
    handle: Option<tokio::task::JoinHandle<()>>,
    table: &'static Table,
    file: PathBuf,
}

impl BatchReader {
    fn spawn(table: &'static Table, file: PathBuf) -> BatchReader {
        let (tx, rx) = mpsc::channel(2);
        let path = file.clone();
        let handle = tokio::task::spawn_blocking(move || read_parquet(table, &path, &tx));
        BatchReader {
            rx,
            handle: Some(handle),
            table,
            file,
        }
    }

    /// The next batch, `None` at the end of the file.
    async fn next(&mut self) -> Result<Option<RecordBatch>> {
        match self.rx.recv().await {
            Some(batch) => batch.map(Some),
            None => {
                if let Some(handle) = self.handle.take() {
                    handle.await.map_err(|e| PgError::ReadParquet {
                        table: self.table.name,
                        file: self.file.clone(),
                        reason: format!("the reader task failed: {e}"),
                    })?;
                }
                Ok(None)
            }
        }
    }
}

/// Sends the file's batches, or one error, to `tx`; stops early when the receiver is gone.
fn read_parquet(table: &'static Table, file: &Path, tx: &mpsc::Sender<Result<RecordBatch>>) {
    let read_error = |reason: String| PgError::ReadParquet {
        table: table.name,
        file: file.to_path_buf(),
        reason,
    };
    let opened = std::fs::File::open(file)
        .map_err(|e| read_error(e.to_string()))
        .and_then(|f| {
            ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| read_error(e.to_string()))
        })
        .and_then(|b| {
            check_schema(table, file, b.schema())?;
            let expected = b.metadata().file_metadata().num_rows();
            let reader = b
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| read_error(e.to_string()))?;
            Ok((reader, expected))
        });
    let (reader, expected) = match opened {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.blocking_send(Err(e));
            return;
        }
    };
    let mut rows = 0i64;
    for batch in reader {
        let msg = batch.map_err(|e| read_error(e.to_string()));
        if let Ok(b) = &msg {
            rows += b.num_rows() as i64;
        }
        let failed = msg.is_err();
        if tx.blocking_send(msg).is_err() || failed {
            return; // the loader stopped listening, or this was the error to report
        }
    }
    if rows != expected {
        let _ = tx.blocking_send(Err(read_error(format!(
            "the footer promises {expected} rows but {rows} were read"
        ))));
    }
}

fn check_schema(table: &'static Table, file: &Path, found: &SchemaRef) -> Result<()> {
    let mismatch = |detail: String| PgError::SchemaMismatch {
        table: table.name,
        file: file.to_path_buf(),
        detail,
    };
    match super::schema_mismatch(table, found) {
        Some(detail) => Err(mismatch(detail)),
        None => Ok(()),
    }
}

/// One value in binary `COPY` encoding.
#[derive(Debug)]
enum Cell<'a> {
    Null,
    BigInt(i64),
    Int(i32),
    Double(f64),
    /// Microseconds since 2000-01-01 (PostgreSQL's epoch).
    Timestamp(i64),
    Text(&'a str),
}

impl ToSql for Cell<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self, ty) {
            (Cell::Null, _) => return Ok(IsNull::Yes),
            (Cell::BigInt(v), &Type::INT8) => out.put_i64(*v),
            (Cell::Int(v), &Type::INT4) => out.put_i32(*v),
            (Cell::Double(v), &Type::FLOAT8) => out.put_f64(*v),
            (Cell::Timestamp(v), &Type::TIMESTAMP) => out.put_i64(*v),
            (Cell::Text(s), &Type::VARCHAR | &Type::TEXT) => out.put_slice(s.as_bytes()),
            (cell, ty) => {
                return Err(format!("cannot send {cell:?} as PostgreSQL type {ty}").into());
            }
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8 | Type::INT4 | Type::FLOAT8 | Type::TIMESTAMP | Type::VARCHAR | Type::TEXT
        )
    }

    to_sql_checked!();
}

/// A typed view of one column of a batch.
enum ColumnView<'a> {
    BigInt(&'a arrow::array::Int64Array),
    Int(&'a arrow::array::Int32Array),
    Double(&'a arrow::array::Float64Array),
    Timestamp(&'a arrow::array::TimestampMicrosecondArray),
    Text(&'a arrow::array::StringArray),
}

async fn write_batch(
    mut writer: Pin<&mut BinaryCopyInWriter>,
    table: &'static Table,
    file: &Path,
    batch: &RecordBatch,
    first_row: u64,
) -> Result<()> {
    let value_error = |row: usize, column: &'static str, reason: String| PgError::Value {
        table: table.name,
        file: file.to_path_buf(),
        row: first_row + row as u64,
        column,
        reason,
    };
    let mut views = Vec::with_capacity(table.columns.len());
    for (i, c) in table.columns.iter().enumerate() {
        let a = batch.column(i);
        let view = match (c.ty, a.data_type()) {
            (ColumnType::BigInt, DataType::Int64) => {
                a.as_primitive_opt::<Int64Type>().map(ColumnView::BigInt)
            }
            (ColumnType::Integer, DataType::Int32) => {
                a.as_primitive_opt::<Int32Type>().map(ColumnView::Int)
            }
            (ColumnType::Double, DataType::Float64) => {
                a.as_primitive_opt::<Float64Type>().map(ColumnView::Double)
            }
            (ColumnType::Timestamp, DataType::Timestamp(_, None)) => a
                .as_primitive_opt::<TimestampMicrosecondType>()
                .map(ColumnView::Timestamp),
            (ColumnType::Varchar(_), DataType::Utf8) => {
                a.as_string_opt::<i32>().map(ColumnView::Text)
            }
            _ => None,
        };
        let view = view.ok_or_else(|| {
            value_error(
                0,
                c.name,
                format!("unexpected Arrow type {}", a.data_type()),
            )
        })?;
        views.push((c, view));
    }

    let mut cells: Vec<Cell<'_>> = Vec::with_capacity(views.len());
    for row in 0..batch.num_rows() {
        cells.clear();
        for (c, view) in &views {
            let cell = match view {
                ColumnView::BigInt(a) if a.is_valid(row) => Cell::BigInt(a.value(row)),
                ColumnView::Int(a) if a.is_valid(row) => Cell::Int(a.value(row)),
                ColumnView::Double(a) if a.is_valid(row) => Cell::Double(a.value(row)),
                ColumnView::Timestamp(a) if a.is_valid(row) => Cell::Timestamp(
                    a.value(row)
                        .checked_sub(PG_EPOCH_OFFSET_MICROS)
                        .ok_or_else(|| {
                            value_error(row, c.name, "timestamp out of range".to_owned())
                        })?,
                ),
                ColumnView::Text(a) if a.is_valid(row) => {
                    let s = a.value(row);
                    if s.as_bytes().contains(&0) {
                        return Err(value_error(
                            row,
                            c.name,
                            "text contains a NUL byte, which PostgreSQL cannot store".to_owned(),
                        ));
                    }
                    Cell::Text(s)
                }
                _ => Cell::Null,
            };
            cells.push(cell);
        }
        writer
            .as_mut()
            .write_raw(cells.iter())
            .await
            .map_err(|source| PgError::Copy {
                table: table.name,
                file: file.to_path_buf(),
                reason: format!("at row {}: {}", first_row + row as u64, describe(&source)),
                source,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_url() {
        let t = PgTarget::parse(
            "postgres://alice:s%40cr%2Ft@db.example.com:6543/dwh?sslmode=verify-full&application_name=x",
        )
        .unwrap();
        assert_eq!(t.host, PgHost::Tcp("db.example.com".into()));
        assert_eq!(t.port, 6543);
        assert_eq!(t.user, "alice");
        assert_eq!(t.password.as_ref().unwrap().expose(), "s@cr/t");
        assert_eq!(t.dbname, "dwh");
        assert_eq!(t.sslmode, SslMode::VerifyFull);
        assert_eq!(t.application_name, "x");
        let t = PgTarget::parse("postgres://u@h?sslmode=require").unwrap();
        assert_eq!((t.sslmode, t.dbname.as_str()), (SslMode::Require, "u"));
        assert_eq!(t.host, PgHost::Tcp("h".into()));
    }

    #[test]
    fn parses_unencoded_at_and_question_mark_in_password() {
        let t = PgTarget::parse("postgresql://bob:p@ss?w@127.0.0.1/db").unwrap();
        assert_eq!(t.password.as_ref().unwrap().expose(), "p@ss?w");
        assert_eq!(t.host, PgHost::Tcp("127.0.0.1".into()));
        assert_eq!(t.dbname, "db");
    }

    #[test]
    fn parses_unix_socket_and_defaults() {
        let t =
            PgTarget::parse("postgres://postgres@/sparkify?host=/tmp/pg%20x&port=5999").unwrap();
        assert_eq!(t.host, PgHost::Unix("/tmp/pg x".into()));
        assert_eq!(t.port, 5999);
        assert!(t.plan().unwrap().local);
        let t = PgTarget::parse("postgres://u@%2Fvar%2Frun%2Fpostgresql").unwrap();
        assert_eq!(t.host, PgHost::Unix("/var/run/postgresql".into()));
        assert_eq!(t.dbname, "u");
        assert_eq!(t.port, DEFAULT_PORT);
    }

    #[test]
    fn parses_ipv6() {
        let t = PgTarget::parse("postgres://u@[::1]:7000/d").unwrap();
        assert_eq!(t.host, PgHost::Tcp("::1".into()));
        assert_eq!(t.endpoint(), "[::1]:7000/d");
        assert!(t.host.is_local());
    }

    #[test]
    fn rejects_bad_urls_without_leaking() {
        for bad in [
            "mysql://u:hunter2@h/d",
            "postgres://u:hunter2@h:hunter2x/d",
            "postgres://u:hunter2@h/d?sslmode=hunter2",
            "postgres://u:hunter2@h/d?hunter2",
            "postgres://u:hunter2@h/d?pass-hunter2=1",
            "postgres://u:hunter2@h1,h2/d",
            "postgres://:hunter2@h/d",
            "postgres://u:hunter2%zz@h/d",
        ] {
            let e = PgTarget::parse(bad).unwrap_err();
            let text = format!("{e} {e:?}");
            assert!(!text.contains("hunter2"), "{bad}: {text}");
        }
    }

    #[test]
    fn password_is_redacted() {
        let t = PgTarget::parse("postgres://u:hunter2@localhost/d").unwrap();
        let shown = format!("{t} {t:?} {:?}", t.config());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
        assert_eq!(
            t.to_string(),
            "postgres://u:***@localhost:5432/d?sslmode=prefer"
        );
    }

    #[test]
    fn local_hosts_may_be_plain() {
        for url in [
            "postgres://u@localhost/d",
            "postgres://u@127.0.0.1/d?sslmode=disable",
            "postgres://u@127.8.9.10/d",
            "postgres://u@[::1]/d",
            "postgres://u@/d?host=/tmp",
        ] {
            let plan = PgTarget::parse(url).unwrap().plan().unwrap();
            assert!(plan.local, "{url}");
            assert_eq!(plan.transport, Transport::Plain, "{url}");
        }
    }

    #[test]
    fn remote_without_tls_is_refused() {
        for mode in ["disable", "allow", "prefer"] {
            let url = format!("postgres://u:hunter2@db.example.com/d?sslmode={mode}");
            let t = PgTarget::parse(&url).unwrap();
            let e = t.plan().unwrap_err();
            assert!(matches!(e, PgError::InsecureRemote { .. }), "{e}");
            let msg = e.to_string();
            assert!(msg.contains("db.example.com:5432/d"), "{msg}");
            assert!(!msg.contains("hunter2"));
        }
        // Default sslmode is prefer: refused too.
        assert!(PgTarget::parse("postgres://u@10.0.0.5/d")
            .unwrap()
            .plan()
            .is_err());
        // Explicit opt-in.
        let plan = PgTarget::parse("postgres://u@10.0.0.5/d?sslmode=disable")
            .unwrap()
            .allow_insecure_remote(true)
            .plan()
            .unwrap();
        assert_eq!(plan.transport, Transport::Plain);
    }

    #[test]
    fn remote_with_tls_is_planned() {
        let plan = PgTarget::parse("postgres://u@db.example.com/d?sslmode=verify-full")
            .unwrap()
            .plan()
            .unwrap();
        assert!(!plan.local);
        assert_eq!(
            plan.transport,
            Transport::Tls {
                check: CertCheck::ChainAndHost,
                roots: RootCerts::Bundled,
                fallback_to_plain: false
            }
        );
        let plan = PgTarget::parse("postgres://u@db.example.com/d?sslmode=require")
            .unwrap()
            .plan()
            .unwrap();
        assert!(matches!(
            plan.transport,
            Transport::Tls {
                check: CertCheck::None,
                ..
            }
        ));
        let plan =
            PgTarget::parse("postgres://u@db.example.com/d?sslmode=require&sslrootcert=/ca.pem")
                .unwrap()
                .plan()
                .unwrap();
        assert_eq!(
            plan.transport,
            Transport::Tls {
                check: CertCheck::Chain,
                roots: RootCerts::File("/ca.pem".into()),
                fallback_to_plain: false
            }
        );
    }

    #[test]
    fn tls_connectors_build() {
        for check in [CertCheck::None, CertCheck::Chain, CertCheck::ChainAndHost] {
            assert!(tls::connector(check, &RootCerts::Bundled).is_ok());
        }
        let e = tls::connector(
            CertCheck::Chain,
            &RootCerts::File("/nonexistent.pem".into()),
        )
        .err()
        .unwrap();
        assert!(e.contains("/nonexistent.pem"), "{e}");
    }

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
