//! Connection settings: `sslmode`, host, roots, the connect plan and [`PgTarget`].

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::{Client, Connection, NoTls};

use super::error::{describe, PgError, Result};
use super::tls;
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
    pub(super) host: PgHost,
    pub(super) port: u16,
    pub(super) user: String,
    pub(super) password: Option<Secret>,
    pub(super) dbname: String,
    pub(super) sslmode: SslMode,
    pub(super) sslrootcert: Option<RootCerts>,
    pub(super) application_name: String,
    pub(super) connect_timeout: Duration,
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
}
