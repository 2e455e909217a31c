//! Where a command loads or queries the star schema: `--target local`, `redshift` or a
//! `postgres://` URL. Kept apart from [`crate::plan`] so that the plan does not depend on the
//! warehouse that depends on it.

use std::fmt;

use crate::{Error, Result};

/// Where a run loads the star schema.
#[derive(Debug, Clone)]
pub enum Target {
    /// Nowhere beyond the Parquet output.
    Local,
    /// A PostgreSQL database.
    Postgres(Box<crate::warehouse::postgres::PgTarget>),
    /// Amazon Redshift, configured in `dwh.cfg`.
    Redshift(Box<crate::warehouse::redshift::RedshiftTarget>),
}

impl Target {
    /// Parses `--target`: `local`, `redshift` or a `postgres://` URL. A URL without a password takes
    /// `PGPASSWORD` from the environment; `redshift` is resolved from `config`. Either way a
    /// plain-text connection to a remote host is refused here unless `allow_insecure`.
    pub fn parse(
        value: &str,
        allow_insecure: bool,
        config: &crate::config::Config,
    ) -> Result<Self> {
        use crate::warehouse::postgres::PgTarget;
        use crate::warehouse::redshift::RedshiftTarget;
        match value {
            "local" => Ok(Target::Local),
            "redshift" => Ok(Target::Redshift(Box::new(RedshiftTarget::from_config(
                config,
                allow_insecure,
            )?))),
            v if v.starts_with("postgres://") || v.starts_with("postgresql://") => {
                let session = crate::warehouse::session::SessionSettings::from_config(config)?;
                let mut target = PgTarget::parse(v)?
                    .allow_insecure_remote(allow_insecure)
                    .with_session(session);
                if !target.has_password() {
                    if let Ok(p) = std::env::var("PGPASSWORD") {
                        target = target.with_password(crate::config::Secret::new(p));
                    }
                }
                target.plan()?;
                Ok(Target::Postgres(Box::new(target)))
            }
            _ => Err(Error::Usage(
                "--target must be local, redshift or a postgres:// URL".into(),
            )),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Local => f.write_str("local"),
            Target::Postgres(t) => write!(f, "{t}"),
            Target::Redshift(t) => write!(f, "{t}"),
        }
    }
}
