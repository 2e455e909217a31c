//! The Redshift cluster of `dwh.cfg` (`[CLUSTER] HOST DB_NAME DB_USER DB_PASSWORD DB_PORT`) as a
//! connection target. Redshift speaks the PostgreSQL protocol, so the PostgreSQL client and its TLS
//! policy are reused; the connection always uses `sslmode=verify-full`.

use super::postgres::{PgTarget, Secret};
use crate::config::Config;
use crate::Result;

/// Redshift's default port.
pub const REDSHIFT_PORT: u16 = 5439;

/// Percent-encodes everything but unreserved URL characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The cluster named by `[CLUSTER]`, with the password from `DB_PASSWORD` (or
/// `SPARKIFY_CLUSTER_DB_PASSWORD`). Errors name the file, section and key, never the password.
pub fn redshift_target(config: &Config) -> Result<PgTarget> {
    let host = config.require("CLUSTER", "HOST")?;
    let db = config.require("CLUSTER", "DB_NAME")?;
    let user = config.require("CLUSTER", "DB_USER")?;
    let password = config.require("CLUSTER", "DB_PASSWORD")?;
    let port = match config.get("CLUSTER", "DB_PORT") {
        None => REDSHIFT_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| config.invalid("CLUSTER", "DB_PORT", "not a port number"))?,
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !host_ok {
        return Err(config
            .invalid(
                "CLUSTER",
                "HOST",
                "expected a host name such as x.y.redshift.amazonaws.com",
            )
            .into());
    }
    let url = format!(
        "postgres://{}@{host}:{port}/{}?sslmode=verify-full",
        encode(&user),
        encode(&db)
    );
    let target = PgTarget::parse(&url)
        .map_err(|e| config.invalid("CLUSTER", "HOST", e.to_string()))?
        .with_password(Secret::new(password));
    target.plan()?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn builds_a_verified_tls_target_without_leaking() {
        let cfg = Config::parse(
            Path::new("dwh.cfg"),
            "[CLUSTER]\nHOST='c.abc.us-west-2.redshift.amazonaws.com'\nDB_NAME='dwh'\n\
             DB_USER='dwh user'\nDB_PASSWORD='p@ss:w/rd'\nDB_PORT='5439'\n",
        )
        .unwrap();
        let t = redshift_target(&cfg).unwrap();
        assert_eq!(t.user(), "dwh user");
        assert_eq!(t.port(), 5439);
        let shown = format!("{t} {t:?}");
        assert!(!shown.contains("p@ss"), "{shown}");
        assert!(shown.contains("verify-full"), "{shown}");
    }

    #[test]
    fn missing_and_bad_keys_are_named() {
        let cfg = Config::parse(Path::new("dwh.cfg"), "[CLUSTER]\nHOST='h/x'\n").unwrap();
        let e = redshift_target(&cfg).unwrap_err().to_string();
        assert!(e.contains("[CLUSTER] DB_NAME"), "{e}");
        let cfg = Config::parse(
            Path::new("dwh.cfg"),
            "[CLUSTER]\nHOST='h/x'\nDB_NAME=d\nDB_USER=u\nDB_PASSWORD=p\n",
        )
        .unwrap();
        let e = redshift_target(&cfg).unwrap_err().to_string();
        assert!(e.contains("[CLUSTER] HOST"), "{e}");
    }
}
