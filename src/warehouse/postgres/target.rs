//! Connection settings: `sslmode`, host, roots, the connect plan and [`PgTarget`].

use crate::warehouse::session::SessionSettings;
use crate::warehouse::sql::{Dialect, Sql};
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::{Client, Connection, NoTls};

use super::error::{describe, PgError, Result};
use super::tls::{self, CertCheck, ChannelBinding, ConnectPlan, RootCerts, Transport};
use super::url::parse_url;
use super::Secret;

/// Default PostgreSQL port.
pub const DEFAULT_PORT: u16 = 5432;
/// Connect timeout applied when the URL sets none.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

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
    /// TLS always; the certificate is not verified (libpq semantics), so SCRAM channel binding is
    /// required, unless a root certificate is given (`sslrootcert`, `~/.postgresql/root.crt`), in
    /// which case the chain is verified as for `verify-ca`.
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

/// A PostgreSQL connection target parsed from a URL.
///
/// `Debug` and `Display` never show the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTarget {
    pub(super) host: PgHost,
    pub(super) port: u16,
    pub(super) user: String,
    pub(super) password: Option<Secret>,
    pub(super) dbname: String,
    pub(super) sslmode: SslMode,
    pub(super) sslrootcert: Option<RootCerts>,
    pub(super) channel_binding: Option<ChannelBinding>,
    pub(super) application_name: String,
    pub(super) connect_timeout: Duration,
    pub(super) allow_insecure_remote: bool,
    pub(super) use_default_root_file: bool,
    pub(super) session: SessionSettings,
}

impl PgTarget {
    /// Parses `postgres://user:pass@host:port/db?sslmode=…` (or `postgresql://`).
    ///
    /// Supported query parameters: `host` (a path starting with `/` is a Unix socket directory),
    /// `port`, `user`, `password`, `dbname`, `sslmode`, `sslrootcert` (a PEM file, or `system`,
    /// which makes `verify-full` the default `sslmode`), `channel_binding`, `application_name`,
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
            channel_binding: None,
            application_name: "sparkify".to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            allow_insecure_remote: false,
            use_default_root_file: true,
            session: SessionSettings::default(),
        }
    }

    /// Sets the schema and time limits every session on this target starts with.
    pub fn with_session(mut self, session: SessionSettings) -> PgTarget {
        self.session = session;
        self
    }

    /// The schema and time limits of this target's sessions.
    pub fn session(&self) -> &SessionSettings {
        &self.session
    }

    /// The statement renderer for this target's sessions in `dialect`.
    pub fn sql(&self, dialect: Dialect) -> Sql {
        Sql::for_session(dialect, &self.session)
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

    /// Sets `channel_binding`; without it, binding is required when the certificate is not verified
    /// and preferred otherwise.
    pub fn with_channel_binding(mut self, channel_binding: ChannelBinding) -> PgTarget {
        self.channel_binding = Some(channel_binding);
        self
    }

    /// Whether libpq's default root certificate file, `~/.postgresql/root.crt`, is used when no
    /// `sslrootcert` is given (on by default, as in libpq).
    pub fn use_default_root_file(mut self, on: bool) -> PgTarget {
        self.use_default_root_file = on;
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

    /// Connects according to [`PgTarget::plan`] (logging its warning first, if any) and drives
    /// the connection on the current Tokio runtime. Errors name `host:port/db` and the user, never
    /// the password.
    pub async fn connect(&self) -> Result<Client> {
        let plan = self.plan()?;
        if let Some(warning) = &plan.warning {
            tracing::warn!(endpoint = %plan.endpoint, "{warning}");
        }
        let mut config = self.config();
        config.channel_binding(plan.channel_binding.into());
        let connect_error = |source| self.connect_error(&plan, source);
        match &plan.transport {
            Transport::Plain => {
                config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                let (client, connection) = config.connect(NoTls).await.map_err(connect_error)?;
                spawn_connection(plan.endpoint.clone(), connection);
                Ok(client)
            }
            Transport::Tls {
                check,
                fallback_to_plain,
            } => {
                config.ssl_mode(if *fallback_to_plain {
                    tokio_postgres::config::SslMode::Prefer
                } else {
                    tokio_postgres::config::SslMode::Require
                });
                // plan() refuses TLS over a Unix socket, so the host is a name or an address.
                let host = match &self.host {
                    PgHost::Tcp(h) => h.as_str(),
                    PgHost::Unix(_) => "",
                };
                let tls = tls::connector(check, host).map_err(|reason| self.tls_error(reason))?;
                let (client, connection) = config.connect(tls).await.map_err(connect_error)?;
                spawn_connection(plan.endpoint.clone(), connection);
                Ok(client)
            }
        }
    }

    /// The error for a failed connection; a refusal for want of channel binding says why binding
    /// was required and what the user can do.
    fn connect_error(&self, plan: &ConnectPlan, source: tokio_postgres::Error) -> PgError {
        // tokio-postgres' words when the server authenticates without binding (`connect_raw.rs`).
        const NOT_BOUND: &str = "server did not use channel binding";
        let mut reason = describe(&source);
        if plan.channel_binding == ChannelBinding::Require && reason.contains(NOT_BOUND) {
            let why = match &plan.transport {
                Transport::Tls {
                    check: CertCheck::None,
                    ..
                } if self.channel_binding.is_none() => format!(
                    "the server certificate is not verified (sslmode={} without a root \
                     certificate), so SCRAM channel binding is required",
                    self.sslmode
                ),
                _ => "channel_binding=require".to_owned(),
            };
            reason = format!(
                "{why}, and the server did not use it (it must authenticate {} by scram-sha-256 over \
                 TLS; md5, password and trust cannot bind), so the password was not sent; verify \
                 the server (sslrootcert=<CA file>, sslmode=verify-full) or accept the risk of a \
                 man in the middle with channel_binding=disable",
                self.user
            );
        }
        if let Transport::Tls {
            check: CertCheck::Chain(roots) | CertCheck::ChainAndHost(roots),
            ..
        } = &plan.transport
        {
            // rustls' words for a certificate it refused: say which roots were trusted.
            if reason.contains("invalid peer certificate") {
                reason.push_str(&format!(" (trusted roots: {roots})"));
            }
        }
        PgError::Connect {
            endpoint: plan.endpoint.clone(),
            user: self.user.clone(),
            reason,
            source,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
