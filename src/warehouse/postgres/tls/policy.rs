//! The TLS policy: from `sslmode`, the trusted roots and `channel_binding` to a [`ConnectPlan`],
//! decided before any network traffic. README, "TLS", has the table this code implements.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::super::error::{PgError, Result};
use super::super::target::{PgHost, PgTarget, SslMode};

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

impl fmt::Display for RootCerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootCerts::Bundled => f.write_str("the bundled Mozilla roots (sslrootcert=system)"),
            RootCerts::File(path) => write!(f, "{}", path.display()),
        }
    }
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
    /// Refuse to log in without binding; the password is not sent then.
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
    /// Channel binding for SCRAM: `Require` when TLS is required and the certificate is not
    /// verified, unless the URL (or dwh.cfg) says otherwise; `Prefer` elsewhere.
    pub channel_binding: ChannelBinding,
    /// What [`PgTarget::connect`] warns about before connecting to a host that is not this machine
    /// when the server's identity is not verified (or there is no TLS at all).
    pub warning: Option<String>,
}

impl PgTarget {
    /// Decides how to connect, without connecting (it only reads the root certificate file): a
    /// local host may be plain; a remote host needs `sslmode=require` or `verify-*` unless
    /// insecure connections were explicitly allowed; `verify-*` needs a trusted root; SCRAM
    /// channel binding is required when the certificate will not be verified. README, "TLS", has
    /// the whole table.
    pub fn plan(&self) -> Result<ConnectPlan> {
        let default_root = self
            .use_default_root_file
            .then(super::default_root_file)
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

    /// A TLS settings error naming this target's endpoint.
    pub(in crate::warehouse::postgres) fn tls_error(&self, reason: String) -> PgError {
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
                super::root_store(roots).map_err(|reason| self.tls_error(reason))?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
