//! TLS as libpq does it, against throwaway PostgreSQL servers on 127.0.0.1 (`common/pg.rs`) with
//! their own CA: what each `sslmode` checks, libpq's host-name rules, the default root file, and
//! SCRAM channel binding whenever the certificate is not verified — including through a man in the
//! middle that relays a connection to the real server. Remote hosts are only ever planned, never
//! contacted (see the plan tests in `src/warehouse/postgres/tls/policy.rs` and `tests/redshift.rs`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::pg::{Auth, ServerCert, TestPg, LOGIN_PASSWORD, SUPERUSER};
use sparkify::warehouse::postgres::{ChannelBinding, PgError, PgTarget};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A URL for the superuser (`trust`) at `host` and `pg`'s port, with `query`.
fn superuser_url(pg: &TestPg, host: &str, query: &str) -> String {
    format!(
        "postgres://{SUPERUSER}@{host}:{}/postgres?{query}",
        pg.port()
    )
}

fn ca_query(pg: &TestPg, sslmode: &str) -> String {
    format!("sslmode={sslmode}&sslrootcert={}", pg.ca_cert().display())
}

/// Connects with sparkify's code, ignoring the tester's `~/.postgresql/root.crt`.
async fn connect(url: &str) -> Result<tokio_postgres::Client, PgError> {
    PgTarget::parse(url)
        .unwrap()
        .use_default_root_file(false)
        .connect()
        .await
}

/// Whether the session runs over TLS, as the server sees it.
async fn server_sees_tls(client: &tokio_postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// The reason of a connection error (`PgError::Connect`), which must be one line.
fn connect_reason(e: PgError) -> String {
    let PgError::Connect { reason, .. } = &e else {
        panic!("expected a connection error, got: {e}");
    };
    let text = e.to_string();
    eprintln!("refused: {text}");
    assert!(!text.contains('\n'), "{text}");
    assert!(!text.contains(LOGIN_PASSWORD), "{text}");
    reason.clone()
}

// ---------------------------------------------------------------------------------------------
// What verify-full, verify-ca and require with a root check
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_fails_on_a_name_mismatch_and_succeeds_on_a_match() {
    let Some(pg) = TestPg::start_with_tls() else {
        return;
    };
    // The certificate names DNS:localhost only.
    let c = connect(&superuser_url(
        &pg,
        "localhost",
        &ca_query(&pg, "verify-full"),
    ))
    .await
    .unwrap();
    assert!(server_sees_tls(&c).await);
    let e = connect(&superuser_url(
        &pg,
        "127.0.0.1",
        &ca_query(&pg, "verify-full"),
    ))
    .await
    .unwrap_err();
    let reason = connect_reason(e);
    assert!(
        reason.contains("certificate not valid for name \"127.0.0.1\"")
            && reason.contains("only valid for localhost"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_follows_libpq_for_a_common_name_and_an_ip_address() {
    // No subjectAltName: libpq (and so sparkify) matches the Common Name; webpki alone would not.
    let cn_only = ServerCert {
        common_name: "localhost",
        alt_names: None,
        self_signed: false,
    };
    let Some(pg) = TestPg::start_tls(cn_only, Auth::Trust) else {
        return;
    };
    let c = connect(&superuser_url(
        &pg,
        "localhost",
        &ca_query(&pg, "verify-full"),
    ))
    .await
    .unwrap();
    assert!(server_sees_tls(&c).await);
    drop(pg);

    // An iPAddress name for an IP host; the Common Name is then not consulted for it.
    let ip = ServerCert {
        common_name: "127.0.0.2",
        alt_names: Some("DNS:db.example.test,IP:127.0.0.1"),
        self_signed: false,
    };
    let Some(pg) = TestPg::start_tls(ip, Auth::Trust) else {
        return;
    };
    let c = connect(&superuser_url(
        &pg,
        "127.0.0.1",
        &ca_query(&pg, "verify-full"),
    ))
    .await
    .unwrap();
    assert!(server_sees_tls(&c).await);
    // localhost is neither a dNSName here nor (dNSName present) looked for in the Common Name.
    let e = connect(&superuser_url(
        &pg,
        "localhost",
        &ca_query(&pg, "verify-full"),
    ))
    .await
    .unwrap_err();
    let reason = connect_reason(e);
    assert!(reason.contains("db.example.test or 127.0.0.1"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_ca_accepts_a_name_mismatch_but_refuses_an_untrusted_chain() {
    let other_name = ServerCert {
        common_name: "db.example.test",
        alt_names: Some("DNS:db.example.test"),
        self_signed: false,
    };
    let Some(pg) = TestPg::start_tls(other_name, Auth::Trust) else {
        return;
    };
    // verify-ca, and require with a root file (libpq: "the same as verify-ca"), accept the chain
    // whatever the name; the certificate is verified, so channel binding is not required and the
    // superuser's trust login works.
    for mode in ["verify-ca", "require"] {
        let url = superuser_url(&pg, "localhost", &ca_query(&pg, mode));
        let plan = PgTarget::parse(&url).unwrap().plan().unwrap();
        assert_eq!(plan.channel_binding, ChannelBinding::Prefer, "{mode}");
        let c = connect(&url).await.unwrap();
        assert!(server_sees_tls(&c).await, "{mode}");
    }
    let e = connect(&superuser_url(
        &pg,
        "localhost",
        &ca_query(&pg, "verify-full"),
    ))
    .await
    .unwrap_err();
    assert!(connect_reason(e).contains("only valid for db.example.test"));
    drop(pg);

    // A self-signed server certificate does not chain to the test CA: refused in every mode that
    // has a root, require included.
    let self_signed = ServerCert {
        self_signed: true,
        ..ServerCert::LOCALHOST
    };
    let Some(pg) = TestPg::start_tls(self_signed, Auth::Trust) else {
        return;
    };
    for mode in ["verify-full", "verify-ca", "require"] {
        let e = connect(&superuser_url(&pg, "localhost", &ca_query(&pg, mode)))
            .await
            .unwrap_err();
        let reason = connect_reason(e);
        assert!(
            reason.contains("invalid peer certificate"),
            "{mode}: {reason}"
        );
        assert!(reason.contains("UnknownIssuer"), "{mode}: {reason}");
        let ca = pg.ca_cert();
        assert!(
            reason.contains(&format!("(trusted roots: {})", ca.display())),
            "{mode}: {reason}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Roots: sslrootcert, ~/.postgresql/root.crt, none
// ---------------------------------------------------------------------------------------------

/// `sparkify create-tables --target <url>` with `HOME=<home>`.
fn create_tables(home: &Path, url: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sparkify"))
        .args(["create-tables", "--target", url])
        .current_dir(home)
        .env("HOME", home)
        .env_remove("SPARKIFY_LOG")
        .env_remove("PGPASSWORD")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_modes_without_a_trusted_root_fail_and_root_crt_in_home_is_one() {
    let Some(pg) = TestPg::start_with_tls() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    for mode in ["verify-ca", "verify-full"] {
        let url = superuser_url(&pg, "localhost", &format!("sslmode={mode}"));
        let out = create_tables(home.path(), &url);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{mode}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: ")
                && err.contains(&format!("sslmode={mode} needs a trusted root certificate"))
                && err.contains("sslrootcert"),
            "{err}"
        );
    }
    let tables = || async {
        pg.connect()
            .await
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    assert_eq!(tables().await, 0, "nothing was created");

    // libpq's default root file, ~/.postgresql/root.crt, is a trusted root.
    let dot = home.path().join(".postgresql");
    std::fs::create_dir(&dot).unwrap();
    std::fs::copy(pg.ca_cert(), dot.join("root.crt")).unwrap();
    let url = superuser_url(&pg, "localhost", "sslmode=verify-full");
    let out = create_tables(home.path(), &url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tables().await, 5);
}

// ---------------------------------------------------------------------------------------------
// require without a root: channel binding
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_without_a_root_connects_with_channel_binding_to_a_scram_server() {
    let Some(pg) = TestPg::start_tls(ServerCert::LOCALHOST, Auth::ScramSha256) else {
        return;
    };
    pg.create_login_user(Auth::ScramSha256).await;
    let url = pg.login_url("127.0.0.1", "sslmode=require");
    let plan = PgTarget::parse(&url)
        .unwrap()
        .use_default_root_file(false)
        .plan()
        .unwrap();
    // Required: tokio-postgres refuses to finish a login that is not SCRAM-SHA-256-PLUS.
    assert_eq!(plan.channel_binding, ChannelBinding::Require);
    let c = connect(&url).await.unwrap();
    assert!(server_sees_tls(&c).await);
    let user: String = c
        .query_one("SELECT current_user", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(user, "app");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_without_a_root_refuses_md5_and_password_logins_in_one_line() {
    for auth in [Auth::Md5, Auth::Password] {
        let Some(pg) = TestPg::start_tls(ServerCert::LOCALHOST, auth) else {
            return;
        };
        pg.create_login_user(auth).await;
        let url = pg.login_url("127.0.0.1", "sslmode=require");
        let reason = connect_reason(connect(&url).await.unwrap_err());
        assert!(
            reason.contains("the server certificate is not verified")
                && reason.contains("SCRAM channel binding is required")
                && reason.contains("the password was not sent")
                && reason.contains("channel_binding=disable"),
            "{auth:?}: {reason}"
        );
        // The binary says the same in one line, exit 2.
        let home = tempfile::tempdir().unwrap();
        let out = create_tables(home.path(), &url);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("SCRAM channel binding is required"), "{err}");
        assert!(!err.contains(LOGIN_PASSWORD), "{err}");
        // The explicit opt-out is honoured.
        let opted_out = pg.login_url("127.0.0.1", "sslmode=require&channel_binding=disable");
        let c = connect(&opted_out).await.unwrap();
        assert!(server_sees_tls(&c).await, "{auth:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// A man in the middle
// ---------------------------------------------------------------------------------------------

/// PostgreSQL's SSLRequest: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// A man in the middle on 127.0.0.1: for each client it answers the SSLRequest, completes TLS
/// with its own certificate, opens TLS to the real server (verifying nothing) and relays the
/// decrypted bytes both ways, keeping what the client sent.
struct Mitm {
    port: u16,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Mitm {
    async fn start(upstream_port: u16, cert: &Path, key: &Path) -> Mitm {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from_pem_file(cert).unwrap()],
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
            .with_no_client_auth();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                let (acceptor, connector, log) = (acceptor.clone(), connector.clone(), log.clone());
                tokio::spawn(async move {
                    let mut request = [0u8; 8];
                    down.read_exact(&mut request).await?;
                    assert_eq!(request, SSL_REQUEST);
                    down.write_all(b"S").await?;
                    let down = acceptor.accept(down).await?;
                    let mut up = TcpStream::connect(("127.0.0.1", upstream_port)).await?;
                    up.write_all(&SSL_REQUEST).await?;
                    let mut answer = [0u8; 1];
                    up.read_exact(&mut answer).await?;
                    assert_eq!(&answer, b"S");
                    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
                    let up = connector.connect(name, up).await?;
                    relay(down, up, log).await
                });
            }
        });
        Mitm { port, seen }
    }

    /// Whether the client sent `needle` (in the clear, inside TLS) through the man in the middle.
    fn saw(&self, needle: &str) -> bool {
        let seen = self.seen.lock().unwrap();
        seen.windows(needle.len()).any(|w| w == needle.as_bytes())
    }
}

/// Copies both ways until either side closes, recording what flows from `down` to `up`.
async fn relay<D, U>(down: D, up: U, log: Arc<Mutex<Vec<u8>>>) -> std::io::Result<()>
where
    D: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    U: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut down_r, mut down_w) = tokio::io::split(down);
    let (mut up_r, mut up_w) = tokio::io::split(up);
    let client_to_server = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = down_r.read(&mut buf).await?;
            if n == 0 {
                return up_w.shutdown().await;
            }
            log.lock().unwrap().extend_from_slice(&buf[..n]);
            up_w.write_all(&buf[..n]).await?;
        }
    };
    let server_to_client = tokio::io::copy(&mut up_r, &mut down_w);
    tokio::select! {
        r = client_to_server => r,
        r = server_to_client => r.map(|_| ()),
    }
}

/// The man in the middle's view of the real server: any certificate will do.
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn mitm_cert() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = common::pg::self_signed_localhost_cert(dir.path());
    (dir, cert, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_man_in_the_middle_cannot_relay_a_channel_bound_login() {
    let Some(pg) = TestPg::start_tls(ServerCert::LOCALHOST, Auth::ScramSha256) else {
        return;
    };
    pg.create_login_user(Auth::ScramSha256).await;
    let (_dir, cert, key) = mitm_cert();
    let mitm = Mitm::start(pg.port(), &cert, &key).await;
    let via_mitm = |query: &str| {
        format!(
            "postgres://app:{LOGIN_PASSWORD}@localhost:{}/postgres?{query}",
            mitm.port
        )
    };
    // require without a root: the client binds SCRAM to the certificate it saw (the man in the
    // middle's), the server to its own: the server refuses the login.
    let e = connect(&via_mitm("sslmode=require")).await.unwrap_err();
    let reason = connect_reason(e);
    assert!(
        reason.contains("SCRAM channel binding check failed"),
        "{reason}"
    );
    assert!(
        mitm.saw("SCRAM-SHA-256-PLUS"),
        "the login went through the relay"
    );
    // The same relay with channel binding disabled: the man in the middle holds a logged-in
    // session and reads what the client sends. This is what the rule prevents.
    let c = connect(&via_mitm("sslmode=require&channel_binding=disable"))
        .await
        .unwrap();
    c.batch_execute("SELECT 'a secret row'").await.unwrap();
    assert!(mitm.saw("a secret row"));
    // verify-full with the right root refuses the man in the middle's certificate outright.
    let e = connect(&via_mitm(&ca_query(&pg, "verify-full")))
        .await
        .unwrap_err();
    assert!(connect_reason(e).contains("UnknownIssuer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_man_in_the_middle_never_sees_a_password_sent_in_clear_text() {
    let Some(pg) = TestPg::start_tls(ServerCert::LOCALHOST, Auth::Password) else {
        return;
    };
    pg.create_login_user(Auth::Password).await;
    let (_dir, cert, key) = mitm_cert();
    let mitm = Mitm::start(pg.port(), &cert, &key).await;
    let via_mitm = |query: &str| {
        format!(
            "postgres://app:{LOGIN_PASSWORD}@localhost:{}/postgres?{query}",
            mitm.port
        )
    };
    // The server asks for the password in clear text; binding is required, so it is not sent.
    let e = connect(&via_mitm("sslmode=require")).await.unwrap_err();
    assert!(connect_reason(e).contains("the password was not sent"));
    assert!(!mitm.saw(LOGIN_PASSWORD));
    // Opted out, the password crosses the man in the middle in clear text.
    connect(&via_mitm("sslmode=require&channel_binding=disable"))
        .await
        .unwrap();
    assert!(mitm.saw(LOGIN_PASSWORD));
}
