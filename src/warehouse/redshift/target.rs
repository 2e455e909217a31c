//! The Redshift target as `dwh.cfg` describes it: the cluster connection, the IAM role COPY reads
//! S3 with, and the S3 staging prefix the Parquet goes to.

use std::fmt;

use crate::config::{Config, Secret};
use crate::s3::{S3Location, S3Settings};
use crate::sink::s3::{KeepRuns, LATEST};
use crate::warehouse::postgres::{ChannelBinding, PgHost, PgTarget, RootCerts, SslMode};
use crate::warehouse::session::SessionSettings;
use crate::warehouse::sql::{Dialect, IamRole, Ident, S3Url, Sql};

use super::RedshiftError;

/// Redshift's default port.
pub const DEFAULT_PORT: u16 = 5439;

/// Everything a Redshift load needs, resolved and validated from the config before any work.
///
/// Keys: `[CLUSTER] HOST DB_NAME DB_USER DB_PASSWORD DB_PORT` (port 5439 by default), optional
/// `[CLUSTER] SSLMODE` (default `verify-full`: TLS, certificate checked against the bundled
/// Mozilla roots, which hold the Amazon Trust Services roots Redshift's certificates chain to, and
/// the host name), `SSLROOTCERT` (a PEM file, or `system`: the bundled roots), `CHANNEL_BINDING`
/// (libpq's `channel_binding`) and `SCHEMA`; `[IAM_ROLE] ARN`;
/// `[S3] STAGING` (`s3://bucket/prefix`) and `STAGING_REGION` (else `REGION`). `SPARKIFY_<SECTION>_<KEY>` overrides any of
/// them, e.g. `SPARKIFY_CLUSTER_DB_PASSWORD`. `Debug` and `Display` never show the password.
#[derive(Debug, Clone)]
pub struct RedshiftTarget {
    /// The cluster, reached over the PostgreSQL protocol.
    pub connection: PgTarget,
    /// The role `COPY … IAM_ROLE` reads the staged Parquet with.
    pub iam_role: IamRole,
    /// Where runs are published for COPY (`<staging>/runs/<run_id>/…`, `<staging>/_latest`).
    pub staging: S3Location,
    /// The schema of the star-schema tables; `None`: the user's search path.
    pub schema: Option<Ident>,
    /// The staging bucket's region (`[S3] STAGING_REGION`, else `REGION`); `None`: the AWS chain.
    pub region: Option<String>,
    /// The runs kept under `staging` after a publish (`[S3] KEEP_RUNS`, `--keep-runs`).
    pub keep_runs: KeepRuns,
}

impl RedshiftTarget {
    /// Reads and checks the target from `config`. A plain-text connection to a host other than
    /// this machine is refused here, before anything connects, unless `allow_insecure`.
    pub fn from_config(config: &Config, allow_insecure: bool) -> Result<Self, RedshiftError> {
        let host = config.require("CLUSTER", "HOST")?;
        if host.is_empty()
            || host.contains(['/', ':', '@', '?', '#'])
            || host.chars().any(char::is_whitespace)
        {
            return Err(config
                .invalid(
                    "CLUSTER",
                    "HOST",
                    "must be the cluster's host name alone (port in DB_PORT, database in DB_NAME)",
                )
                .into());
        }
        let port = match config.get("CLUSTER", "DB_PORT") {
            None => DEFAULT_PORT,
            Some(p) => p
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    config.invalid(
                        "CLUSTER",
                        "DB_PORT",
                        "must be a port number from 1 to 65535",
                    )
                })?,
        };
        let dbname = config.require("CLUSTER", "DB_NAME")?;
        let user = config.require("CLUSTER", "DB_USER")?;
        let password = Secret::new(config.require("CLUSTER", "DB_PASSWORD")?);
        let connection = PgTarget::new(PgHost::Tcp(host), port, user, dbname)
            .with_password(password)
            // Redshift has been seen to reject the application_name startup parameter.
            .with_application_name("")
            .allow_insecure_remote(allow_insecure);
        let connection = tls_settings(config, connection)?;
        connection.plan()?;

        let iam_role = IamRole::new(&config.require("IAM_ROLE", "ARN")?)
            .map_err(|e| config.invalid("IAM_ROLE", "ARN", e.to_string()))?;
        let staging = S3Location::parse(&config.require("S3", "STAGING")?)
            .map_err(|e| config.invalid("S3", "STAGING", e.reason))?;
        if staging.prefix.is_empty() {
            return Err(config
                .invalid("S3", "STAGING", "must name a prefix: s3://bucket/prefix")
                .into());
        }
        // Every COPY literal is a key under STAGING: check its characters now, not mid-load.
        S3Url::new(&staging.url_of(&staging.key(LATEST)))
            .map_err(|e| config.invalid("S3", "STAGING", e.to_string()))?;
        let session = SessionSettings::from_config(config)?;
        let schema = session.schema.clone();
        let connection = connection.with_session(session);
        Ok(RedshiftTarget {
            connection,
            iam_role,
            staging,
            schema,
            region: config.staging_region(),
            keep_runs: KeepRuns::from_config(config)?,
        })
    }

    /// The statement renderer for this target.
    pub fn sql(&self) -> Sql {
        Sql::for_session(Dialect::Redshift, &self.session())
    }

    /// The schema ([`RedshiftTarget::schema`]) and time limits of this target's sessions.
    pub fn session(&self) -> SessionSettings {
        let mut session = self.connection.session().clone();
        session.schema.clone_from(&self.schema);
        session
    }

    /// Connects to the cluster as [`PgTarget::connect`] does (TLS per the plan), on the current
    /// Tokio runtime.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, RedshiftError> {
        Ok(self.connection.connect().await?)
    }

    /// How the staging bucket is reached.
    pub fn s3_settings(&self) -> S3Settings {
        S3Settings {
            region: self.region.clone(),
            ..S3Settings::default()
        }
    }
}

/// Applies `[CLUSTER] SSLMODE`, `SSLROOTCERT` and `CHANNEL_BINDING` as libpq reads `sslmode`,
/// `sslrootcert` and `channel_binding`, except that `verify-full` (the default) without
/// `SSLROOTCERT` trusts the bundled Mozilla roots instead of needing `~/.postgresql/root.crt`.
fn tls_settings(config: &Config, connection: PgTarget) -> Result<PgTarget, RedshiftError> {
    let sslmode = match config.get("CLUSTER", "SSLMODE") {
        None => SslMode::VerifyFull,
        Some(m) => m.parse().map_err(|_| {
            config.invalid(
                "CLUSTER",
                "SSLMODE",
                "must be one of disable, allow, prefer, require, verify-ca, verify-full",
            )
        })?,
    };
    let mut connection = connection.with_sslmode(sslmode);
    match config.get("CLUSTER", "SSLROOTCERT").as_deref() {
        Some("system") => connection = connection.with_root_certs(RootCerts::Bundled),
        Some(path) => connection = connection.with_root_certs(RootCerts::File(path.into())),
        None if sslmode == SslMode::VerifyFull => {
            connection = connection.with_root_certs(RootCerts::Bundled)
        }
        None => {}
    }
    if let Some(binding) = config.get("CLUSTER", "CHANNEL_BINDING") {
        let binding: ChannelBinding = binding.parse().map_err(|_| {
            config.invalid(
                "CLUSTER",
                "CHANNEL_BINDING",
                "must be one of disable, prefer, require",
            )
        })?;
        connection = connection.with_channel_binding(binding);
    }
    Ok(connection)
}

impl fmt::Display for RedshiftTarget {
    /// `redshift://user:***@host:port/db?sslmode=…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.connection;
        let pw = if c.has_password() { ":***" } else { "" };
        write!(
            f,
            "redshift://{}{pw}@{}:{}/{}?sslmode={}",
            c.user(),
            c.host(),
            c.port(),
            c.dbname(),
            c.sslmode()
        )
    }
}
