//! Parsing libpq-style connection URLs into a [`PgTarget`].

use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use super::error::{PgError, Result};
use super::target::{PgHost, PgTarget, SslMode, DEFAULT_PORT};
use super::tls::{ChannelBinding, RootCerts};
use super::Secret;

fn invalid(reason: impl Into<String>) -> PgError {
    PgError::InvalidUrl {
        reason: reason.into(),
    }
}

/// Percent-decodes `s`; `what` names the component in errors (the text itself is never quoted).
/// Unlike [`percent_decode_str`], a `%` not followed by two hex digits is refused.
fn decode(s: &str, what: &str) -> Result<String> {
    let well_formed = s.split('%').skip(1).all(|rest| {
        rest.get(..2)
            .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    if !well_formed {
        return Err(invalid(format!("bad percent-encoding in the {what}")));
    }
    percent_decode_str(s)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| invalid(format!("the {what} is not valid UTF-8")))
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

pub(super) fn parse_url(url: &str) -> Result<PgTarget> {
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

    let mut sslmode: Option<SslMode> = None;
    let mut sslrootcert = None;
    let mut channel_binding: Option<ChannelBinding> = None;
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
            "sslmode" => sslmode = Some(value.parse()?),
            "sslrootcert" => {
                sslrootcert = Some(if value == "system" {
                    RootCerts::Bundled
                } else {
                    RootCerts::File(PathBuf::from(value))
                })
            }
            "channel_binding" => channel_binding = Some(value.parse()?),
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
                     password, dbname, sslmode, sslrootcert, channel_binding, application_name, \
                     connect_timeout"
                )));
            }
        }
    }

    let host = host.ok_or_else(|| invalid("no host given (postgres://user@host/db)"))?;
    let user = user.ok_or_else(|| invalid("no user given (postgres://user@host/db)"))?;
    let dbname = dbname.unwrap_or_else(|| user.clone());
    let mut target = PgTarget::new(host, port.unwrap_or(DEFAULT_PORT), user, dbname);
    target.password = password;
    // libpq 16+: sslrootcert=system makes verify-full the default (and the only accepted) mode.
    target.sslmode = sslmode.unwrap_or(if sslrootcert == Some(RootCerts::Bundled) {
        SslMode::VerifyFull
    } else {
        SslMode::default()
    });
    target.sslrootcert = sslrootcert;
    target.channel_binding = channel_binding;
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
    fn parses_tls_parameters_as_libpq() {
        let t =
            PgTarget::parse("postgres://u@h/d?sslmode=require&channel_binding=disable").unwrap();
        assert_eq!(t.channel_binding, Some(ChannelBinding::Disable));
        assert_eq!(t.sslrootcert, None);
        // sslrootcert=system: verify-full unless another mode is given (which plan() refuses).
        let t = PgTarget::parse("postgres://u@h/d?sslrootcert=system").unwrap();
        assert_eq!(
            (t.sslmode, t.sslrootcert),
            (SslMode::VerifyFull, Some(RootCerts::Bundled))
        );
        let t = PgTarget::parse("postgres://u@h/d?sslrootcert=system&sslmode=verify-ca").unwrap();
        assert_eq!(t.sslmode, SslMode::VerifyCa);
        let t = PgTarget::parse("postgres://u@h/d?sslrootcert=/etc/ca.pem").unwrap();
        assert_eq!(t.sslmode, SslMode::Prefer);
        assert_eq!(t.sslrootcert, Some(RootCerts::File("/etc/ca.pem".into())));
        let e = PgTarget::parse("postgres://u:hunter2@h/d?channel_binding=hunter2").unwrap_err();
        assert!(
            e.to_string().contains("channel_binding must be one of"),
            "{e}"
        );
        assert!(!e.to_string().contains("hunter2"));
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
}
