//! The `verify-full` host-name check, as libpq makes it (PostgreSQL 15-17:
//! `pgtls_verify_peer_name_matches_certificate_guts` in `fe-secure-openssl.c`, the matching in
//! `fe-secure-common.c`):
//!
//! - the host is compared with every subjectAltName, in order: a dNSName matches when it equals the
//!   host (ASCII case-insensitively) or is a wildcard `*.rest` whose `*` stands for the whole
//!   left-most label of the host; an iPAddress matches an IP host with the same bytes;
//! - the subject's (first) Common Name is compared like a dNSName, but only when the certificate
//!   has no subjectAltName of the host's kind (dNSName for a host name, iPAddress for an IP host);
//! - a name holding a NUL byte, or an iPAddress that is neither 4 nor 16 bytes, fails the check.
//!
//! webpki alone compares only subjectAltNames, so a certificate made as PostgreSQL's documentation
//! shows (`openssl req … -subj "/CN=db.example.com"`, no subjectAltName) would fail with sparkify
//! while `psql` accepts it; this module is why both accept it.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, Error, OtherError};
use x509_cert::der::oid::db::rfc4519::COMMON_NAME;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

/// Checks that `cert` names `host`; `server_name` is the same host as rustls holds it (for the
/// error).
pub(super) fn check(
    cert: &CertificateDer<'_>,
    host: &str,
    server_name: &ServerName<'_>,
) -> Result<(), Error> {
    let names = Names::from_der(cert).map_err(|e| invalid(e.to_string()))?;
    match names.matches(host) {
        Ok(Verdict::Match) => Ok(()),
        Ok(Verdict::Mismatch { examined }) => Err(CertificateError::NotValidForNameContext {
            expected: server_name.to_owned(),
            presented: examined,
        }
        .into()),
        Err(reason) => Err(invalid(reason)),
    }
}

fn invalid(reason: String) -> Error {
    Error::Other(OtherError(Arc::new(std::io::Error::other(format!(
        "server certificate: {reason}"
    )))))
}

/// A subjectAltName entry libpq looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AltName {
    Dns(Vec<u8>),
    Ip(Vec<u8>),
}

/// The names a certificate presents for the host-name check.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Names {
    /// dNSName and iPAddress subjectAltNames, in the certificate's order.
    alt: Vec<AltName>,
    /// The subject's first Common Name, as raw bytes.
    common_name: Option<Vec<u8>>,
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Match,
    /// No name matched; the names compared (each once), for the error message.
    Mismatch {
        examined: Vec<String>,
    },
}

impl Names {
    fn from_der(cert: &[u8]) -> Result<Names, x509_cert::der::Error> {
        let cert = Certificate::from_der(cert)?;
        let tbs = &cert.tbs_certificate;
        let mut alt = Vec::new();
        for entry in tbs.filter::<SubjectAltName>() {
            let (_critical, SubjectAltName(names)) = entry?;
            alt.extend(names.into_iter().filter_map(|name| match name {
                GeneralName::DnsName(n) => Some(AltName::Dns(n.as_bytes().to_vec())),
                GeneralName::IpAddress(a) => Some(AltName::Ip(a.as_bytes().to_vec())),
                _ => None,
            }));
        }
        let common_name = tbs
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .find(|atv| atv.oid == COMMON_NAME)
            .map(|atv| atv.value.value().to_vec());
        Ok(Names { alt, common_name })
    }

    /// libpq's verdict for `host`; `Err` for a malformed name (libpq's "-1").
    fn matches(&self, host: &str) -> Result<Verdict, String> {
        let host_ip = host.parse::<IpAddr>().ok();
        let mut examined = Vec::new();
        let mut check_common_name = true;
        for name in &self.alt {
            let matched = match name {
                AltName::Dns(pattern) => {
                    check_common_name &= host_ip.is_some();
                    examined.push(String::from_utf8_lossy(pattern).into_owned());
                    name_matches(pattern, host)?
                }
                AltName::Ip(octets) => {
                    check_common_name &= host_ip.is_none();
                    let (shown, matched) = ip_matches(octets, host_ip)?;
                    examined.push(shown);
                    matched
                }
            };
            if matched {
                return Ok(Verdict::Match);
            }
        }
        if check_common_name {
            if let Some(cn) = &self.common_name {
                examined.push(String::from_utf8_lossy(cn).into_owned());
                if name_matches(cn, host)? {
                    return Ok(Verdict::Match);
                }
            }
        }
        let mut shown = Vec::with_capacity(examined.len());
        for name in examined {
            if !shown.contains(&name) {
                shown.push(name);
            }
        }
        Ok(Verdict::Mismatch { examined: shown })
    }
}

/// A dNSName or Common Name against the host: equal, or a `*.` wildcard for one whole label.
fn name_matches(pattern: &[u8], host: &str) -> Result<bool, String> {
    if pattern.contains(&0) {
        return Err("a name contains an embedded NUL".into());
    }
    let host = host.as_bytes();
    if pattern.eq_ignore_ascii_case(host) {
        return Ok(true);
    }
    let Some(suffix) = pattern.strip_prefix(b"*").filter(|s| s.starts_with(b".")) else {
        return Ok(false);
    };
    if suffix.len() < 2 || suffix.len() >= host.len() {
        return Ok(false);
    }
    let (label, rest) = host.split_at(host.len() - suffix.len());
    Ok(rest.eq_ignore_ascii_case(suffix) && !label.contains(&b'.'))
}

/// An iPAddress against the host; also the address as text, for the error message.
fn ip_matches(octets: &[u8], host: Option<IpAddr>) -> Result<(String, bool), String> {
    let ip = match *octets {
        [a, b, c, d] => IpAddr::from([a, b, c, d]),
        _ => match <[u8; 16]>::try_from(octets) {
            Ok(v6) => IpAddr::from(v6),
            Err(_) => {
                return Err(format!(
                    "an IP address name has {} bytes (expected 4 or 16)",
                    octets.len()
                ))
            }
        },
    };
    Ok((ip.to_string(), host == Some(ip)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(name: &str) -> AltName {
        AltName::Dns(name.as_bytes().to_vec())
    }

    fn ip(addr: &str) -> AltName {
        AltName::Ip(match addr.parse::<IpAddr>().unwrap() {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        })
    }

    fn names(alt: Vec<AltName>, common_name: Option<&str>) -> Names {
        Names {
            alt,
            common_name: common_name.map(|c| c.as_bytes().to_vec()),
        }
    }

    fn matches(n: &Names, host: &str) -> bool {
        n.matches(host).unwrap() == Verdict::Match
    }

    /// The cases of PostgreSQL's `src/test/ssl/t/001_ssltests.pl` for `verify-full`.
    #[test]
    fn host_names_match_as_libpq_matches_them() {
        let n = names(vec![], Some("common-name.pg-ssltest.test"));
        assert!(matches(&n, "common-name.pg-ssltest.test"));
        assert!(matches(&n, "COMMON-NAME.pg-ssltest.TEST"));
        assert!(!matches(&n, "wronghost.test"));

        let n = names(
            vec![
                dns("dns1.alt-name.pg-ssltest.test"),
                dns("dns2.alt-name.pg-ssltest.test"),
                dns("*.wildcard.pg-ssltest.test"),
            ],
            Some("common-name.pg-ssltest.test"),
        );
        assert!(matches(&n, "dns1.alt-name.pg-ssltest.test"));
        assert!(matches(&n, "dns2.alt-name.pg-ssltest.test"));
        assert!(matches(&n, "foo.wildcard.pg-ssltest.test"));
        // The wildcard is one whole label: not zero labels, not two, not part of one.
        assert!(!matches(&n, "wildcard.pg-ssltest.test"));
        assert!(!matches(&n, "a.b.wildcard.pg-ssltest.test"));
        assert!(!matches(&n, "deep.dns1.alt-name.pg-ssltest.test"));
        // A dNSName is present, so the Common Name is not consulted for a host name.
        assert!(!matches(&n, "common-name.pg-ssltest.test"));
        assert_eq!(
            n.matches("wronghost.alt-name.pg-ssltest.test").unwrap(),
            Verdict::Mismatch {
                examined: vec![
                    "dns1.alt-name.pg-ssltest.test".into(),
                    "dns2.alt-name.pg-ssltest.test".into(),
                    "*.wildcard.pg-ssltest.test".into(),
                ]
            }
        );

        // Only a wildcard at the very start counts.
        let n = names(vec![dns("f*.example.test"), dns("a.*.example.test")], None);
        assert!(!matches(&n, "foo.example.test"));
        assert!(!matches(&n, "a.b.example.test"));
        // No name at all.
        assert_eq!(
            names(vec![], None).matches("db.example.test").unwrap(),
            Verdict::Mismatch { examined: vec![] }
        );
    }

    #[test]
    fn ip_hosts_match_ip_names_and_fall_back_to_the_common_name() {
        // An iPAddress name for an IPv4 and an IPv6 host.
        let n = names(vec![ip("192.0.2.1"), ip("2001:db8::1")], Some("192.0.2.9"));
        assert!(matches(&n, "192.0.2.1"));
        assert!(matches(&n, "2001:db8:0:0:0:0:0:1"));
        assert!(!matches(&n, "192.0.2.2"));
        // iPAddress names present: the Common Name is not consulted for an IP host …
        assert!(!matches(&n, "192.0.2.9"));
        // … but it is for a host name, which has no dNSName to match here.
        let n = names(vec![ip("192.0.2.1")], Some("db.example.test"));
        assert!(matches(&n, "db.example.test"));
        // A dNSName does not stop the Common Name fallback for an IP host (libpq follows NSS).
        let n = names(vec![dns("db.example.test")], Some("192.0.2.1"));
        assert!(matches(&n, "192.0.2.1"));
        let n = names(vec![dns("localhost")], Some("localhost"));
        assert_eq!(
            n.matches("127.0.0.1").unwrap(),
            Verdict::Mismatch {
                examined: vec!["localhost".into()]
            }
        );
        // And an IP written as a dNSName matches as text.
        let n = names(vec![dns("192.0.2.1")], None);
        assert!(matches(&n, "192.0.2.1"));
        // An iPAddress never matches a host name.
        let n = names(vec![ip("192.0.2.1")], None);
        assert!(!matches(&n, "localhost"));
    }

    #[test]
    fn malformed_names_fail_the_check() {
        let n = names(
            vec![AltName::Dns(b"db.example.test\0.evil.test".to_vec())],
            None,
        );
        assert!(n.matches("db.example.test").unwrap_err().contains("NUL"));
        let n = names(vec![AltName::Ip(vec![192, 0, 2, 1, 0])], None);
        assert!(n.matches("192.0.2.1").unwrap_err().contains("5 bytes"));
        // libpq stops at the first match: a malformed name after it is not reached.
        let n = names(
            vec![dns("db.example.test"), AltName::Ip(vec![1, 2, 3])],
            None,
        );
        assert!(matches(&n, "db.example.test"));
    }
}
