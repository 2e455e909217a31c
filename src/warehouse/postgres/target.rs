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
    /// Mozilla's root store compiled into the binary (`webpki-roots`): `sslrootcert=system`, which
    /// (as in libpq 16+) is only accepted with `sslmode=verify-full`.
    Bundled,
    /// A PEM file: `sslrootcert=/path/to/ca.pem` (e.g. the Amazon RDS bundle), or libpq's default
    /// `~/.postgresql/root.crt` when it exists.
    File(PathBuf),
}

/// How the server certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertCheck {
    /// Not at all: encryption without authentication (`sslmode=require` without a root
    /// certificate). SCRAM channel binding is then required unless explicitly disabled.
    None,
    /// The chain must lead to one of these roots (`verify-ca`; `require` with a root certificate).
    Chain(RootCerts),
    /// The chain must lead to one of these roots and the certificate must name the host, by
    /// libpq's rules (`verify-full`).
    ChainAndHost(RootCerts),
}

/// libpq's `channel_binding`: whether SCRAM authentication must bind itself to the TLS channel
/// (`SCRAM-SHA-256-PLUS`, `tls-server-end-point`), which a man in the middle cannot relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelBinding {
    /// Never bind.
    Disable,
    /// Bind when the server offers it.
    Prefer,
    /// Refuse to authenticate without binding; the password is then never sent otherwise.
    Require,
}

impl ChannelBinding {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelBinding::Disable => "disable",
            ChannelBinding::Prefer => "prefer",
            ChannelBinding::Require => "require",
        }
    }
}

impl fmt::Display for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChannelBinding {
    type Err = PgError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "disable" => Ok(ChannelBinding::Disable),
            "prefer" => Ok(ChannelBinding::Prefer),
            "require" => Ok(ChannelBinding::Require),
            _ => Err(PgError::InvalidUrl {
                reason: "channel_binding must be one of disable, prefer, require".into(),
            }),
        }
    }
}

impl From<ChannelBinding> for tokio_postgres::config::ChannelBinding {
    fn from(c: ChannelBinding) -> Self {
        match c {
            ChannelBinding::Disable => tokio_postgres::config::ChannelBinding::Disable,
            ChannelBinding::Prefer => tokio_postgres::config::ChannelBinding::Prefer,
            ChannelBinding::Require => tokio_postgres::config::ChannelBinding::Require,
        }
    }
}

/// How the connection will be transported, decided before any network traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// No TLS.
    Plain,
    /// TLS.
    Tls {
        /// Certificate checking, with the trusted roots.
        check: CertCheck,
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
    /// Channel binding for SCRAM: `Require` whenever the certificate is not verified, unless the
    /// URL says otherwise.
    pub channel_binding: ChannelBinding,
    /// What [`PgTarget::connect`] warns about before connecting to a host that is not this machine
    /// when the server's identity is not verified (or there is no TLS at all).
    pub warning: Option<String>,
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
    allow_insecure_remote: bool,
    use_default_root_file: bool,
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

    /// Decides how to connect, without connecting (it only reads the root certificate file): a
    /// local host may be plain; a remote host needs `sslmode=require` or `verify-*` unless
    /// insecure connections were explicitly allowed; `verify-*` needs a trusted root; SCRAM
    /// channel binding is required when the certificate will not be verified. README, "TLS", has
    /// the whole table.
    pub fn plan(&self) -> Result<ConnectPlan> {
        let default_root = self
            .use_default_root_file
            .then(tls::default_root_file)
            .flatten();
        self.plan_with(default_root)
    }

    /// [`PgTarget::plan`], with libpq's default root file already looked up.
    fn plan_with(&self, default_root: Option<PathBuf>) -> Result<ConnectPlan> {
        let local = self.host.is_local();
        let transport = self.transport(default_root)?;
        let channel_binding = self.effective_channel_binding(&transport)?;
        Ok(ConnectPlan {
            endpoint: self.endpoint(),
            local,
            warning: (!local)
                .then(|| self.identity_warning(&transport, channel_binding))
                .flatten(),
            transport,
            channel_binding,
        })
    }

    fn tls_error(&self, reason: String) -> PgError {
        PgError::Tls {
            endpoint: self.endpoint(),
            reason,
        }
    }

    /// Plain or TLS, and how the certificate is checked, from `sslmode` and the roots.
    fn transport(&self, default_root: Option<PathBuf>) -> Result<Transport> {
        if self.sslrootcert == Some(RootCerts::Bundled) && self.sslmode != SslMode::VerifyFull {
            return Err(self.tls_error(format!(
                "sslmode={} may not be used with sslrootcert=system (use verify-full): a public CA \
                 vouches for any name its customers own, so only the host name check makes it safe",
                self.sslmode
            )));
        }
        let roots = self
            .sslrootcert
            .clone()
            .or(default_root.map(RootCerts::File));
        let tls = |check, fallback_to_plain| Transport::Tls {
            check,
            fallback_to_plain,
        };
        let chain_if_roots =
            |roots: Option<RootCerts>| roots.map_or(CertCheck::None, CertCheck::Chain);
        let transport = match self.sslmode {
            SslMode::Require => tls(chain_if_roots(roots), false),
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let Some(roots) = roots else {
                    return Err(self.tls_error(format!(
                        "sslmode={} needs a trusted root certificate, and neither sslrootcert nor \
                         ~/.postgresql/root.crt gives one: set sslrootcert=/path/to/ca.pem (or \
                         sslrootcert=system for a certificate from a public CA)",
                        self.sslmode
                    )));
                };
                if self.sslmode == SslMode::VerifyCa {
                    tls(CertCheck::Chain(roots), false)
                } else {
                    tls(CertCheck::ChainAndHost(roots), false)
                }
            }
            SslMode::Disable | SslMode::Allow | SslMode::Prefer if self.host.is_local() => {
                Transport::Plain
            }
            _ if !self.allow_insecure_remote => {
                return Err(PgError::InsecureRemote {
                    endpoint: self.endpoint(),
                    sslmode: self.sslmode,
                })
            }
            SslMode::Disable => Transport::Plain,
            SslMode::Allow | SslMode::Prefer => tls(chain_if_roots(roots), true),
        };
        if let Transport::Tls { check, .. } = &transport {
            if let PgHost::Unix(_) = self.host {
                return Err(self.tls_error(format!(
                    "sslmode={} cannot be used with a Unix socket; use sslmode=disable or a TCP host",
                    self.sslmode
                )));
            }
            // A missing or empty root file fails here, before any work, not at connect time.
            if let CertCheck::Chain(roots) | CertCheck::ChainAndHost(roots) = check {
                tls::root_store(roots).map_err(|reason| self.tls_error(reason))?;
            }
        }
        Ok(transport)
    }

    /// `channel_binding` as given, else `require` when TLS is used without verifying the
    /// certificate (so that a man in the middle cannot collect the password), else `prefer`.
    fn effective_channel_binding(&self, transport: &Transport) -> Result<ChannelBinding> {
        match (self.channel_binding, transport) {
            (Some(ChannelBinding::Require), Transport::Plain) => Err(self.tls_error(
                "channel_binding=require needs TLS (sslmode=require, verify-ca or verify-full)"
                    .into(),
            )),
            (Some(given), _) => Ok(given),
            (
                None,
                Transport::Tls {
                    check: CertCheck::None,
                    fallback_to_plain: false,
                },
            ) => Ok(ChannelBinding::Require),
            (None, _) => Ok(ChannelBinding::Prefer),
        }
    }

    /// The warning for a remote host whose identity is not verified, or that may be reached in
    /// plain text.
    fn identity_warning(&self, transport: &Transport, binding: ChannelBinding) -> Option<String> {
        const NOT_VERIFIED: &str =
            "the server's identity is not verified (no sslrootcert, no ~/.postgresql/root.crt)";
        let mode = self.sslmode;
        match transport {
            Transport::Plain => Some(format!(
                "sslmode={mode} with insecure connections allowed: the password and the data cross \
                 the network in plain text"
            )),
            Transport::Tls {
                fallback_to_plain: true,
                check,
            } => Some(format!(
                "sslmode={mode} with insecure connections allowed: plain text if the server offers \
                 no TLS{}",
                if *check == CertCheck::None {
                    format!("; {NOT_VERIFIED}")
                } else {
                    String::new()
                }
            )),
            Transport::Tls {
                check: CertCheck::None,
                ..
            } if binding == ChannelBinding::Require => Some(format!(
                "sslmode={mode}: {NOT_VERIFIED}; SCRAM channel binding is required, so a man in the \
                 middle cannot collect the password; set sslrootcert and sslmode=verify-full to \
                 authenticate the server"
            )),
            Transport::Tls {
                check: CertCheck::None,
                ..
            } => Some(format!(
                "sslmode={mode} with channel_binding={binding}: {NOT_VERIFIED} and channel binding \
                 is not required, so a man in the middle can read the data and collect the \
                 password; set sslrootcert and sslmode=verify-full"
            )),
            Transport::Tls { .. } => None,
        }
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
    use std::path::Path;

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

    /// A CA certificate, only parsed (never used to verify): the unit tests need a root file.
    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBljCCAT2gAwIBAgIUX7xpo6fAJ6sPIk1H34c+Y9ciplkwCgYIKoZIzj0EAwIw
IDEeMBwGA1UEAwwVc3BhcmtpZnkgdW5pdC10ZXN0IENBMCAXDTI2MTIwMjE3MjIy
M1oYDzIxMjYxMTA4MTcyMjIzWjAgMR4wHAYDVQQDDBVzcGFya2lmeSB1bml0LXRl
c3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQB1UMCw5NcJX3SsPs0/zMF
fJZWwuwionYmpkJ0TGC8dyJL0yezgX2pyWibfPkIl+hUuI08mhH91LKOR+M5D4mm
o1MwUTAdBgNVHQ4EFgQUfVWQq/gVRcCoeL5mzblI6KfQxS8wHwYDVR0jBBgwFoAU
fVWQq/gVRcCoeL5mzblI6KfQxS8wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQD
AgNHADBEAiBYmBDEuphUflryu+gPZwwdv5kKw9XKs1jwI8HT5Ckk4wIgQN2xAiet
kwzjuq3G0CfOKoiogmefDE1yqJfZ4viJTRc=
-----END CERTIFICATE-----
";

    /// The plan for `query` on a remote host, with `default_root` as `~/.postgresql/root.crt`.
    fn remote_plan(query: &str, default_root: Option<&Path>) -> Result<ConnectPlan> {
        PgTarget::parse(&format!("postgres://u@db.example.com/d?{query}"))
            .unwrap()
            .plan_with(default_root.map(Path::to_path_buf))
    }

    fn tls_error(query: &str) -> String {
        match remote_plan(query, None) {
            Err(e @ PgError::Tls { .. }) => e.to_string(),
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn verify_modes_need_a_trusted_root() {
        for mode in ["verify-ca", "verify-full"] {
            let e = tls_error(&format!("sslmode={mode}"));
            assert!(e.contains("needs a trusted root certificate"), "{e}");
            assert!(e.contains("db.example.com:5432/d"), "{e}");
        }
        let e = tls_error("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem");
        assert!(
            e.contains("cannot read sslrootcert /nonexistent/ca.pem"),
            "{e}"
        );
        // libpq 16+: the system roots only with verify-full.
        for mode in ["require", "verify-ca", "prefer", "disable"] {
            let e = tls_error(&format!("sslrootcert=system&sslmode={mode}"));
            assert!(e.contains("may not be used with sslrootcert=system"), "{e}");
        }
        let plan = remote_plan("sslrootcert=system", None).unwrap();
        assert_eq!(
            (plan.transport, plan.channel_binding, plan.warning),
            (
                Transport::Tls {
                    check: CertCheck::ChainAndHost(RootCerts::Bundled),
                    fallback_to_plain: false
                },
                ChannelBinding::Prefer,
                None
            )
        );
    }

    #[test]
    fn a_root_file_verifies_the_chain_in_require_as_in_libpq() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, TEST_CA).unwrap();
        let given = format!("sslrootcert={}", ca.display());
        let chain = |check| Transport::Tls {
            check,
            fallback_to_plain: false,
        };
        let file = || RootCerts::File(ca.clone());
        // Given in the URL, or found as ~/.postgresql/root.crt.
        for (query, default_root) in [
            (format!("sslmode=require&{given}"), None),
            ("sslmode=require".to_owned(), Some(ca.as_path())),
            (format!("sslmode=verify-ca&{given}"), None),
        ] {
            let plan = remote_plan(&query, default_root).unwrap();
            assert_eq!(plan.transport, chain(CertCheck::Chain(file())), "{query}");
            assert_eq!(plan.channel_binding, ChannelBinding::Prefer, "{query}");
            assert_eq!(plan.warning, None, "{query}");
        }
        let plan = remote_plan("sslmode=verify-full", Some(&ca)).unwrap();
        assert_eq!(plan.transport, chain(CertCheck::ChainAndHost(file())));
        // sslrootcert wins over the default file.
        let other = dir.path().join("other.pem");
        std::fs::write(&other, TEST_CA).unwrap();
        let plan = remote_plan(&format!("sslmode=verify-ca&{given}"), Some(&other)).unwrap();
        assert_eq!(plan.transport, chain(CertCheck::Chain(file())));
    }

    #[test]
    fn require_without_a_root_requires_channel_binding_and_warns() {
        let plan = remote_plan("sslmode=require", None).unwrap();
        assert_eq!(
            plan.transport,
            Transport::Tls {
                check: CertCheck::None,
                fallback_to_plain: false
            }
        );
        assert_eq!(plan.channel_binding, ChannelBinding::Require);
        let warning = plan.warning.unwrap();
        assert!(warning.contains("identity is not verified"), "{warning}");
        assert!(warning.contains("channel binding is required"), "{warning}");
        // The same on this machine, without the warning.
        let plan = PgTarget::parse("postgres://u@127.0.0.1/d?sslmode=require")
            .unwrap()
            .plan_with(None)
            .unwrap();
        assert_eq!(
            (plan.channel_binding, plan.warning),
            (ChannelBinding::Require, None)
        );
        // An explicit opt-out is honoured, loudly.
        for binding in ["disable", "prefer"] {
            let plan =
                remote_plan(&format!("sslmode=require&channel_binding={binding}"), None).unwrap();
            assert_eq!(plan.channel_binding.as_str(), binding);
            let warning = plan.warning.unwrap();
            assert!(warning.contains("collect the password"), "{warning}");
        }
        // channel_binding=require is honoured where the certificate is verified, refused in plain.
        let plan = remote_plan("sslrootcert=system&channel_binding=require", None).unwrap();
        assert_eq!(plan.channel_binding, ChannelBinding::Require);
        let e = PgTarget::parse("postgres://u@localhost/d?channel_binding=require")
            .unwrap()
            .plan_with(None)
            .unwrap_err();
        assert!(
            e.to_string().contains("channel_binding=require needs TLS"),
            "{e}"
        );
    }

    #[test]
    fn insecure_remote_connections_warn() {
        let plan = |query: &str| {
            PgTarget::parse(&format!("postgres://u@db.example.com/d?{query}"))
                .unwrap()
                .allow_insecure_remote(true)
                .plan_with(None)
                .unwrap()
        };
        let p = plan("sslmode=prefer");
        assert_eq!(
            (p.transport, p.channel_binding),
            (
                Transport::Tls {
                    check: CertCheck::None,
                    fallback_to_plain: true
                },
                ChannelBinding::Prefer
            )
        );
        assert!(p
            .warning
            .unwrap()
            .contains("plain text if the server offers no TLS"));
        let p = plan("sslmode=disable");
        assert_eq!(p.transport, Transport::Plain);
        assert!(p.warning.unwrap().contains("in plain text"));
    }

    #[test]
    fn tls_over_a_unix_socket_is_refused() {
        let e = PgTarget::parse("postgres://u@/d?host=/tmp&sslmode=require")
            .unwrap()
            .plan_with(None)
            .unwrap_err();
        assert!(e.to_string().contains("Unix socket"), "{e}");
    }
}
