//! Settings every warehouse session starts with: the schema of the star-schema tables and the
//! limits on statement and lock waits.
//!
//! Resolved once from the global flags (`--schema`, `--statement-timeout`, `--lock-timeout`), which
//! win, then `[CLUSTER] SCHEMA`, `STATEMENT_TIMEOUT` and `LOCK_TIMEOUT` of the config (or their
//! `SPARKIFY_CLUSTER_*` environment overrides), for every warehouse command and both targets. The
//! limits are rendered as `SET statement_timeout` / `SET lock_timeout` statements at the head of
//! every plan, so `--dry-run` shows them.

use std::time::Duration;

use super::literal::Ident;
use super::sql::Dialect;
use crate::config::Config;

/// A statement may run this long by default: long enough for a large COPY, short enough that a
/// stuck session does not hold its locks for a day.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(2 * 3600);

/// A statement may wait this long for a lock by default (PostgreSQL): a concurrent load holding
/// the tables makes the second one fail in minutes, not hang.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(300);

/// The resolved settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// The schema of the star-schema tables; `None`: the user's search path.
    pub schema: Option<Ident>,
    /// Longest a statement may run; zero: no limit.
    pub statement_timeout: Duration,
    /// Longest a statement may wait for a lock (PostgreSQL; Redshift has no such setting, so its
    /// `LOCK` waits are bounded by the statement timeout); zero: no limit.
    pub lock_timeout: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            schema: None,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }
}

impl SessionSettings {
    /// The settings with `schema` and the default limits.
    pub fn with_schema(schema: Option<Ident>) -> Self {
        SessionSettings {
            schema,
            ..SessionSettings::default()
        }
    }

    /// Reads `[CLUSTER] SCHEMA`, `STATEMENT_TIMEOUT` and `LOCK_TIMEOUT` (the global flags, when
    /// given, were set as overrides of these keys).
    pub fn from_config(config: &Config) -> Result<Self, crate::config::Error> {
        let schema = config
            .get("CLUSTER", "SCHEMA")
            .map(|v| Ident::new(&v))
            .transpose()
            .map_err(|e| config.invalid("CLUSTER", "SCHEMA", e.to_string()))?;
        let duration = |key: &str, default: Duration| match config.get("CLUSTER", key) {
            Some(v) => parse_duration(&v).map_err(|e| config.invalid("CLUSTER", key, e)),
            None => Ok(default),
        };
        Ok(SessionSettings {
            schema,
            statement_timeout: duration("STATEMENT_TIMEOUT", DEFAULT_STATEMENT_TIMEOUT)?,
            lock_timeout: duration("LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)?,
        })
    }

    /// The `SET` statements a session of `dialect` starts with (each ending in `;`).
    pub fn set_statements(&self, dialect: Dialect) -> Vec<String> {
        let mut out = vec![format!(
            "SET statement_timeout TO {};\n",
            self.statement_timeout.as_millis()
        )];
        if dialect == Dialect::Postgres {
            out.push(format!(
                "SET lock_timeout TO {};\n",
                self.lock_timeout.as_millis()
            ));
        }
        out
    }
}

/// Parses `300`, `300s`, `500ms`, `5m` or `2h` (a bare number is seconds; `0` is no limit).
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{value:?} is not a duration (e.g. 300, 300s, 5m, 2h, 0 = none)"))?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" | "min" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => None,
    }
    .filter(|ms| *ms <= i32::MAX as u64)
    .ok_or_else(|| format!("{value:?} is not a duration of at most 24 days (e.g. 300s, 5m, 2h)"))?;
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "x", "5d", "-1", "1000h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_is_read_and_rendered() {
        let mut config = Config::parse(
            std::path::Path::new("dwh.cfg"),
            "[CLUSTER]\nSCHEMA=dwh\nSTATEMENT_TIMEOUT=10m\n",
        )
        .unwrap();
        let s = SessionSettings::from_config(&config).unwrap();
        assert_eq!(s.schema.as_ref().map(Ident::as_str), Some("dwh"));
        assert_eq!(
            s.set_statements(Dialect::Postgres),
            [
                "SET statement_timeout TO 600000;\n",
                "SET lock_timeout TO 300000;\n"
            ]
        );
        assert_eq!(s.set_statements(Dialect::Redshift).len(), 1);
        config.set_override("CLUSTER", "SCHEMA", "user");
        let e = SessionSettings::from_config(&config)
            .unwrap_err()
            .to_string();
        assert!(e.contains("SCHEMA") && e.contains("reserved"), "{e}");
    }
}
