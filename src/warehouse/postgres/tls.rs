//! TLS: the rustls connector for a plan, with the certificate checks libpq's `sslmode`s make.
//!
//! One verifier serves every mode. The chain is checked by webpki (rustls) against the plan's
//! roots; the host name, for `verify-full`, by libpq's own rules ([`host_name`]); with
//! [`CertCheck::None`] only the handshake signatures are checked, which proves the server holds the
//! key of the certificate it sent but not who it is (the plan then requires SCRAM channel binding).

mod host_name;
mod policy;

pub use policy::{CertCheck, ChannelBinding, ConnectPlan, RootCerts, Transport};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's default root certificate file, `~/.postgresql/root.crt`, when it exists: used when
/// `sslrootcert` is not given, as libpq does.
pub(super) fn default_root_file() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let file = Path::new(&home).join(".postgresql").join("root.crt");
    file.exists().then_some(file)
}

/// Builds the TLS connector for a check; `host` is the name `verify-full` compares with the
/// certificate. Errors are plain text for [`super::PgError::Tls`].
pub(super) fn connector(check: &CertCheck, host: &str) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let check = match check {
        CertCheck::None => Check::Nothing,
        CertCheck::Chain(roots) => Check::Chain(root_store(roots)?),
        CertCheck::ChainAndHost(roots) => Check::ChainAndHost(root_store(roots)?, host.to_owned()),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(LibpqVerifier { provider, check }))
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Loads the trusted roots; a file must hold at least one usable certificate.
pub(super) fn root_store(roots: &RootCerts) -> Result<RootCertStore, String> {
    match roots {
        RootCerts::Bundled => Ok(webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect()),
        RootCerts::File(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
            let mut store = RootCertStore::empty();
            let (added, _ignored) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert {} holds no usable certificate",
                    path.display()
                ));
            }
            Ok(store)
        }
    }
}

/// What [`LibpqVerifier`] checks, with what it needs to check it.
#[derive(Debug)]
enum Check {
    /// `require` without a root: nothing about the server's identity.
    Nothing,
    /// `verify-ca` (and `require` with a root): the chain.
    Chain(RootCertStore),
    /// `verify-full`: the chain, and the host name by libpq's rules.
    ChainAndHost(RootCertStore, String),
}

/// The server certificate verifier for every `sslmode`. Handshake signatures are always checked
/// against the presented certificate.
#[derive(Debug)]
struct LibpqVerifier {
    provider: Arc<CryptoProvider>,
    check: Check,
}

impl ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let (roots, host) = match &self.check {
            Check::Nothing => return Ok(ServerCertVerified::assertion()),
            Check::Chain(roots) => (roots, None),
            Check::ChainAndHost(roots, host) => (roots, Some(host)),
        };
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        if let Some(host) = host {
            host_name::check(end_entity, host, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_connectors_build() {
        for check in [
            CertCheck::None,
            CertCheck::Chain(RootCerts::Bundled),
            CertCheck::ChainAndHost(RootCerts::Bundled),
        ] {
            assert!(connector(&check, "db.example.com").is_ok());
        }
        let e = connector(
            &CertCheck::Chain(RootCerts::File("/nonexistent.pem".into())),
            "db.example.com",
        )
        .err()
        .unwrap();
        assert!(e.contains("/nonexistent.pem"), "{e}");
    }

    #[test]
    fn a_root_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("empty.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let e = root_store(&RootCerts::File(file.clone())).unwrap_err();
        assert!(e.contains("holds no usable certificate"), "{e}");
    }
}
