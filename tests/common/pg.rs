//! A throwaway PostgreSQL server for integration tests.
//!
//! [`TestPg::start`] runs `initdb` and `pg_ctl` (PostgreSQL 15, from `PATH`) on a fresh temporary
//! directory, listening only on 127.0.0.1 and a Unix socket inside that directory, with `fsync`
//! off. The server is stopped (`pg_ctl stop -m immediate`) and the directory removed on drop.
//!
//! [`TestPg::start_tls`] adds TLS with a chosen server certificate (signed by a throwaway CA, or
//! self-signed) and a login role whose TCP authentication method is chosen (`trust`,
//! `scram-sha-256`, `md5`, `password`).
//!
//! When run as root, the server runs as the `postgres` user via `runuser`, because PostgreSQL
//! refuses to run as root. When `initdb` is not installed the tests are skipped with a loud
//! message, unless `CI=true`, where a missing server is a failure.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The superuser created by `initdb`; it logs in without a password (`trust`).
pub const SUPERUSER: &str = "postgres";
/// The role [`TestPg::create_login_user`] creates, which authenticates over TCP as [`Auth`] says.
pub const LOGIN_USER: &str = "app";
/// [`LOGIN_USER`]'s password.
pub const LOGIN_PASSWORD: &str = "app-pw-4711";

/// How [`LOGIN_USER`] authenticates over TCP (`pg_hba.conf`); the superuser always uses `trust`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No password.
    Trust,
    /// `scram-sha-256`: with TLS the server also offers `SCRAM-SHA-256-PLUS` (channel binding).
    ScramSha256,
    /// `md5`, with the password stored as an MD5 hash.
    Md5,
    /// `password`: the password in clear text.
    Password,
}

impl Auth {
    fn hba_method(self) -> &'static str {
        match self {
            Auth::Trust => "trust",
            Auth::ScramSha256 => "scram-sha-256",
            Auth::Md5 => "md5",
            Auth::Password => "password",
        }
    }
}

/// The certificate a TLS test server presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerCert {
    /// The subject's Common Name.
    pub common_name: &'static str,
    /// The subjectAltName in openssl's syntax (`DNS:localhost,IP:127.0.0.1`), or none.
    pub alt_names: Option<&'static str>,
    /// Self-signed, instead of signed by the test CA ([`TestPg::ca_cert`]).
    pub self_signed: bool,
}

impl ServerCert {
    /// Signed by the test CA for DNS name `localhost` only (so `verify-full` to `127.0.0.1` fails).
    pub const LOCALHOST: ServerCert = ServerCert {
        common_name: "localhost",
        alt_names: Some("DNS:localhost"),
        self_signed: false,
    };
}

/// A running throwaway PostgreSQL server.
pub struct TestPg {
    dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
    as_postgres_user: bool,
    stopped: bool,
}

impl TestPg {
    /// Starts a server, or returns `None` (after a loud message on stderr) when PostgreSQL is not
    /// installed. Panics with the server log if it is installed but cannot start, and when it is
    /// missing while `CI=true`.
    pub fn start() -> Option<TestPg> {
        TestPg::start_inner(None, Auth::Trust)
    }

    /// Like [`TestPg::start`], with TLS enabled: a throwaway CA (see [`TestPg::ca_cert`]) signs a
    /// server certificate for `localhost` (DNS name only, so `verify-full` to `127.0.0.1` fails).
    /// Needs the `openssl` command.
    pub fn start_with_tls() -> Option<TestPg> {
        TestPg::start_inner(Some(ServerCert::LOCALHOST), Auth::Trust)
    }

    /// Like [`TestPg::start_with_tls`], presenting `cert`, with [`LOGIN_USER`] authenticating
    /// over TCP by `auth` (create it with [`TestPg::create_login_user`]).
    pub fn start_tls(cert: ServerCert, auth: Auth) -> Option<TestPg> {
        TestPg::start_inner(Some(cert), auth)
    }

    fn start_inner(tls: Option<ServerCert>, auth: Auth) -> Option<TestPg> {
        if find_in_path("initdb").is_none() || find_in_path("pg_ctl").is_none() {
            return skip("initdb/pg_ctl (PostgreSQL server binaries) not found on PATH");
        }
        if tls.is_some() && find_in_path("openssl").is_none() {
            return skip("openssl (needed for test certificates) not found on PATH");
        }
        let as_postgres_user = running_as_root();
        // As root the directory must be reachable by the `postgres` user: /tmp is world-traversable,
        // a TMPDIR under /root may not be.
        let dir = if as_postgres_user {
            tempfile::Builder::new()
                .prefix("sparkify-pg-")
                .tempdir_in("/tmp")
        } else {
            tempfile::Builder::new().prefix("sparkify-pg-").tempdir()
        }
        .expect("create temporary directory for PostgreSQL");
        let data = dir.path().join("data");
        let mut pg = TestPg {
            dir,
            data,
            port: 0,
            as_postgres_user,
            stopped: true,
        };
        if let Some(cert) = tls {
            pg.make_certificates(cert);
        }
        if as_postgres_user {
            check_traversable(pg.dir.path());
            pg.run_checked(
                "chown",
                [
                    OsStr::new("-R"),
                    OsStr::new(SUPERUSER),
                    pg.dir.path().as_os_str(),
                ],
                false,
            );
        }
        pg.pg_tool(
            "initdb",
            &[
                "-D",
                path_str(&pg.data),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ],
        );
        if auth != Auth::Trust {
            let hba = format!(
                "local all all trust\nhost all {SUPERUSER} 127.0.0.1/32 trust\n\
                 host all {LOGIN_USER} 127.0.0.1/32 {}\n",
                auth.hba_method()
            );
            std::fs::write(pg.data.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
        }

        // A free port can be taken between probing and binding: retry a few times.
        let mut last_log = String::new();
        for _ in 0..5 {
            pg.port = free_port();
            let mut options = format!(
                "-F -p {} -k {} -c listen_addresses='127.0.0.1' -c fsync=off \
                 -c full_page_writes=off -c synchronous_commit=off -c shared_buffers=16MB \
                 -c max_connections=20",
                pg.port,
                path_str(pg.dir.path())
            );
            if tls.is_some() {
                options.push_str(&format!(
                    " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                    path_str(&pg.dir.path().join("server.crt")),
                    path_str(&pg.dir.path().join("server.key")),
                ));
            }
            let log = pg.dir.path().join("server.log");
            let out = pg.run(
                "pg_ctl",
                [
                    "-D",
                    path_str(&pg.data),
                    "-l",
                    path_str(&log),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &options,
                    "start",
                ],
                true,
            );
            if out.status.success() && pg.wait_ready(Duration::from_secs(30)) {
                pg.stopped = false;
                return Some(pg);
            }
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = pg.run(
                "pg_ctl",
                ["-D", path_str(&pg.data), "stop", "-m", "immediate", "-w"],
                true,
            );
        }
        panic!("PostgreSQL did not start; server log:\n{last_log}");
    }

    /// The PEM file of the CA that signed the server certificate (servers started with TLS).
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// Creates `ca.crt` and a `server.crt`/`server.key` as `cert` says.
    fn make_certificates(&self, cert: ServerCert) {
        let d = self.dir.path();
        let mut ext = String::new();
        if let Some(alt) = cert.alt_names {
            ext.push_str(&format!("subjectAltName={alt}\n"));
        }
        ext.push_str(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\n",
        );
        std::fs::write(d.join("server.ext"), ext).expect("write server.ext");
        let subject = format!("/CN={}", cert.common_name);
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let steps: [Vec<&str>; 3] = [
            [
                &["req", "-x509"][..],
                &ec,
                &["-keyout", "ca.key", "-out", "ca.crt", "-days", "2"],
                &["-subj", "/CN=sparkify test CA"],
                &["-addext", "basicConstraints=critical,CA:TRUE"],
                &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ]
            .concat(),
            [
                &["req"][..],
                &ec,
                &["-keyout", "server.key", "-out", "server.csr"],
                &["-subj", &subject],
            ]
            .concat(),
            [
                &["x509", "-req", "-in", "server.csr"][..],
                if cert.self_signed {
                    &["-key", "server.key"][..]
                } else {
                    &["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"][..]
                },
                &["-out", "server.crt", "-days", "2", "-extfile", "server.ext"],
            ]
            .concat(),
        ];
        for args in steps {
            self.run_checked("openssl", args, false);
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join("server.key"), std::fs::Permissions::from_mode(0o600))
            .expect("chmod server.key");
    }

    /// The TCP port (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the Unix socket `.s.PGSQL.<port>`.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A URL for database `db` over TCP on 127.0.0.1.
    pub fn url_for(&self, db: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// A URL for the `postgres` database over TCP on 127.0.0.1.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// A URL for database `db` over the Unix socket, libpq style (`?host=/dir`).
    pub fn socket_url_for(&self, db: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@/{db}?host={}&port={}",
            self.socket_dir().display(),
            self.port
        )
    }

    /// Connects to the `postgres` database over TCP, independently of the code under test.
    pub async fn connect(&self) -> tokio_postgres::Client {
        self.connect_to("postgres").await
    }

    /// Connects to database `db` over TCP, independently of the code under test.
    pub async fn connect_to(&self, db: &str) -> tokio_postgres::Client {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user(SUPERUSER)
            .dbname(db)
            .connect_timeout(Duration::from_secs(10));
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to test PostgreSQL on port {}: {e}", self.port));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Creates [`LOGIN_USER`] with [`LOGIN_PASSWORD`], stored as an MD5 hash for [`Auth::Md5`]
    /// (else as SCRAM, PostgreSQL's default).
    pub async fn create_login_user(&self, auth: Auth) {
        let encryption = if auth == Auth::Md5 {
            "md5"
        } else {
            "scram-sha-256"
        };
        self.connect()
            .await
            .batch_execute(&format!(
                "SET password_encryption = '{encryption}';\n\
                 CREATE ROLE {LOGIN_USER} LOGIN PASSWORD '{LOGIN_PASSWORD}';"
            ))
            .await
            .unwrap_or_else(|e| panic!("CREATE ROLE {LOGIN_USER}: {e}"));
    }

    /// A URL for [`LOGIN_USER`] with its password, to database `postgres` at `host` (`localhost`
    /// or `127.0.0.1`) and this server's port, with `query` (`sslmode=…&…`).
    pub fn login_url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://{LOGIN_USER}:{LOGIN_PASSWORD}@{host}:{}/postgres?{query}",
            self.port
        )
    }

    /// Creates an empty database and returns its name (for isolating tests on one server).
    pub async fn create_database(&self, name: &str) -> String {
        let client = self.connect().await;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        name.to_owned()
    }

    fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self
                    .dir
                    .path()
                    .join(format!(".s.PGSQL.{}", self.port))
                    .exists()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Runs a PostgreSQL binary (as `postgres` when root), panicking with its output on failure.
    fn pg_tool(&self, tool: &str, args: &[&str]) {
        self.run_checked(tool, args.iter().map(OsStr::new), true);
    }

    fn run_checked<I, S>(&self, program: &str, args: I, as_pg: bool)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.run(program, args, as_pg);
        if !out.status.success() {
            panic!(
                "{program} failed ({}):\nstdout:\n{}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    fn run<I, S>(&self, program: &str, args: I, as_pg: bool) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = if as_pg && self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", SUPERUSER, "--", program]);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args)
            // Keep the child away from the tester's locale and any PG* settings.
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .env_remove("PGHOST")
            .env_remove("PGPORT")
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"))
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.run(
                "pg_ctl",
                ["-D", path_str(&self.data), "stop", "-m", "immediate", "-w"],
                true,
            );
            self.stopped = true;
        }
        // The TempDir removes the directory (root may remove postgres-owned files; a non-root user
        // owns them).
    }
}

/// Writes a self-signed certificate for `localhost` and its key into `dir` (`mitm.crt`, `mitm.key`):
/// a certificate no test CA vouches for, as a man in the middle would present.
pub fn self_signed_localhost_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("mitm.crt"), dir.join("mitm.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// Skips loudly, or panics under `CI=true`.
fn skip(msg: &str) -> Option<TestPg> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}: PostgreSQL integration tests cannot run (CI=true)");
    }
    // Written straight to the stderr stream: the test harness captures `eprintln!` of passing
    // tests, and a skip must not go unnoticed.
    let bar = "!".repeat(76);
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\n!!! SKIPPING PostgreSQL integration test: {msg}\n\
         !!! Install PostgreSQL 15 server binaries to run it (CI=true makes this fail).\n{bar}"
    );
    None
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Panics with a clear message if `postgres` cannot reach `dir` (every ancestor needs `o+x`).
fn check_traversable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for ancestor in dir.ancestors().skip(1) {
        if let Ok(meta) = std::fs::metadata(ancestor) {
            if meta.permissions().mode() & 0o001 == 0 {
                panic!(
                    "{} is not traversable by other users, so the postgres user cannot reach {}",
                    ancestor.display(),
                    dir.display()
                );
            }
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free TCP port on 127.0.0.1")
}
