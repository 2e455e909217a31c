//! An in-process S3 server for tests: [s3s] + [s3s_fs] (objects are plain files in a temp folder),
//! served by hyper on `127.0.0.1:<ephemeral port>` with SigV4 authentication, plus fault injection.
//!
//! ```ignore
//! let s3 = TestS3::start();
//! s3.create_bucket("data");
//! s3.put("data", "log_data/a.json", b"{}\n");
//! s3.set_faults(Faults { error_rate: 0.3, max_consecutive: Some(3), ..Faults::default() });
//! // point a client at s3.endpoint with s3.access_key / s3.secret_key, region us-east-1,
//! // path-style addressing
//! ```
//!
//! The server runs on a thread of its own with its own tokio runtime, so it works under `#[test]` and
//! `#[tokio::test]` alike, and stops when the [`TestS3`] is dropped.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{Body, HttpError};
use tempfile::TempDir;

/// Access key id the test server accepts.
pub const ACCESS_KEY: &str = "SPARKIFYTESTACCESSKEY";
/// Secret access key the test server accepts.
pub const SECRET_KEY: &str = "sparkify/test/SECRET/0123456789abcdef";
/// Region to sign requests for.
pub const REGION: &str = "us-east-1";

/// Faults the server injects. `Faults::default()` injects none.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Share of requests (0.0–1.0) answered with an error instead of being served.
    pub error_rate: f64,
    /// Every n-th request is answered with an error (0 = off).
    pub every_nth: u64,
    /// Every request is answered with an error.
    pub always_fail: bool,
    /// The first n requests (counted from [`TestS3::set_faults`]) are served, every later one fails.
    pub fail_after: Option<u64>,
    /// Share of object GETs (0.0–1.0) whose body is cut off half-way (the connection is aborted).
    pub truncate_rate: f64,
    /// `truncate_rate` also cuts listing responses (bucket-level GETs) mid-body.
    pub truncate_lists: bool,
    /// Latency added to every GET before it is served.
    pub get_latency: Duration,
    /// With `error_rate` / `every_nth` / `truncate_rate`: the same request (method + URI) fails at
    /// most this many times in a row, like a transient S3 error, so that a client that retries more
    /// often always gets through. `None`: no bound.
    pub max_consecutive: Option<u32>,
    /// The status of injected errors.
    pub status: FaultStatus,
    /// Only requests with these methods get error faults (empty: all methods).
    pub methods: Vec<Method>,
}

/// Which error an injected fault answers with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FaultStatus {
    /// Alternately 500 `InternalError` and 503 `SlowDown`.
    #[default]
    Mixed,
    /// 500 `InternalError`.
    InternalError,
    /// 503 `SlowDown`.
    SlowDown,
}

#[derive(Debug, Default)]
struct FaultConfig {
    faults: Faults,
    /// Requests the faults applied to since they were set.
    seen: u64,
    /// Consecutive injected failures per request (method + URI).
    consecutive: HashMap<String, u32>,
    /// State of the xorshift generator.
    rng: u64,
}

/// Shared between the server and the [`TestS3`] handle.
#[derive(Debug, Default)]
struct FaultState {
    config: Mutex<FaultConfig>,
    requests: AtomicU64,
    injected: AtomicU64,
    truncated: AtomicU64,
    /// Requests received per HTTP method.
    by_method: Mutex<HashMap<Method, u64>>,
}

enum Decision {
    Serve { delay: Duration, truncate: bool },
    Fail(StatusCode, &'static str, &'static str),
}

impl FaultState {
    fn set(&self, faults: Faults) {
        let mut config = self.config.lock().unwrap_or_else(|e| e.into_inner());
        *config = FaultConfig {
            faults,
            seen: 0,
            consecutive: HashMap::new(),
            rng: 0x9E37_79B9_7F4A_7C15,
        };
    }

    fn decide(&self, method: &Method, uri: &hyper::Uri) -> Decision {
        self.requests.fetch_add(1, Ordering::Relaxed);
        *self
            .by_method
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(method.clone())
            .or_insert(0) += 1;
        let mut config = self.config.lock().unwrap_or_else(|e| e.into_inner());
        let delay = if method == Method::GET {
            config.faults.get_latency
        } else {
            Duration::ZERO
        };
        let applies = config.faults.methods.is_empty() || config.faults.methods.contains(method);
        if !applies {
            return Decision::Serve {
                delay,
                truncate: false,
            };
        }
        config.seen += 1;
        let seen = config.seen;
        let f = config.faults.clone();
        let id = format!("{method} {uri}");
        let streak = config.consecutive.get(&id).copied().unwrap_or(0);
        let capped = f.max_consecutive.is_some_and(|max| streak >= max);

        let hard = f.always_fail || f.fail_after.is_some_and(|n| seen > n);
        let random_error = f.error_rate > 0.0 && next_unit(&mut config.rng) < f.error_rate;
        let soft = (f.every_nth > 0 && seen.is_multiple_of(f.every_nth)) || random_error;
        if hard || (soft && !capped) {
            *config.consecutive.entry(id).or_insert(0) += 1;
            let n = self.injected.fetch_add(1, Ordering::Relaxed);
            let slow_down = match f.status {
                FaultStatus::Mixed => n % 2 == 1,
                FaultStatus::InternalError => false,
                FaultStatus::SlowDown => true,
            };
            return if slow_down {
                Decision::Fail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SlowDown",
                    "Please reduce your request rate. (injected)",
                )
            } else {
                Decision::Fail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again. (injected)",
                )
            };
        }

        let object_get =
            method == Method::GET && uri.path().trim_matches('/').split('/').count() >= 2;
        let list_get = method == Method::GET && !object_get;
        let truncate = (object_get || (f.truncate_lists && list_get))
            && f.truncate_rate > 0.0
            && !capped
            && next_unit(&mut config.rng) < f.truncate_rate;
        if truncate {
            *config.consecutive.entry(id).or_insert(0) += 1;
        } else {
            config.consecutive.remove(&id);
        }
        Decision::Serve { delay, truncate }
    }
}

/// A uniform number in [0, 1) from a xorshift64 generator.
fn next_unit(state: &mut u64) -> f64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// An S3 error document.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>injected-fault</RequestId></Error>"
    );
    let mut response = Response::new(Body::from(xml));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/xml"),
    );
    response
}

/// A body that yields `data` and then fails, so hyper aborts the connection mid-body.
struct CutBody {
    data: Option<Bytes>,
    failed: bool,
}

impl hyper::body::Body for CutBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if !self.failed {
            self.failed = true;
            return Poll::Ready(Some(Err(std::io::Error::other(
                "injected: connection cut mid-body",
            ))));
        }
        Poll::Ready(None)
    }
}

/// The s3s service wrapped with fault injection.
#[derive(Clone)]
struct FaultyService {
    inner: S3Service,
    faults: Arc<FaultState>,
    /// Held by a conditional PUT (`If-Match` / `If-None-Match`) from its check to its write:
    /// s3s-fs checks the condition, then writes, and two such PUTs must not interleave there.
    conditional: Arc<tokio::sync::Mutex<()>>,
    /// See [`TestS3::hold_until`].
    gate: Arc<Mutex<Option<Gate>>>,
}

/// Holds the first request of a method to a key until a request of that method to another (or
/// the same) key has been served.
struct Gate {
    /// The method held.
    method: Method,
    /// The request path held (`/bucket/key`).
    path: String,
    /// The request path whose request releases it.
    release_path: String,
    /// Whether the first PUT arrived and waits.
    holding: bool,
    release: Arc<tokio::sync::Notify>,
}

/// What a request does at the gate.
enum AtGate {
    Pass,
    /// Wait for the release, then go on.
    Wait(Arc<tokio::sync::Notify>),
    /// Go on, then release the held one.
    Release(Arc<tokio::sync::Notify>),
}

impl FaultyService {
    fn at_gate(&self, method: &Method, uri: &hyper::Uri) -> AtGate {
        let mut gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        let Some(g) = gate.as_mut().filter(|g| g.method == method) else {
            return AtGate::Pass;
        };
        if !g.holding && g.path == uri.path() {
            g.holding = true;
            return AtGate::Wait(Arc::clone(&g.release));
        }
        if !g.holding || g.release_path != uri.path() {
            return AtGate::Pass;
        }
        let release = Arc::clone(&g.release);
        *gate = None;
        AtGate::Release(release)
    }
}

impl hyper::service::Service<Request<Incoming>> for FaultyService {
    type Response = Response<Body>;
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, HttpError>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let decision = self.faults.decide(req.method(), req.uri());
        let service = self.inner.clone();
        let faults = Arc::clone(&self.faults);
        let gate = self.at_gate(req.method(), req.uri());
        let conditional = (req.method() == Method::PUT
            && (req.headers().contains_key(hyper::header::IF_MATCH)
                || req.headers().contains_key(hyper::header::IF_NONE_MATCH)))
        .then(|| Arc::clone(&self.conditional));
        Box::pin(async move {
            let (delay, truncate) = match decision {
                Decision::Fail(status, code, message) => {
                    // Read the request body first, as S3 does: answering before it is read would
                    // make the client see a broken pipe instead of the error.
                    let _ = req.into_body().collect().await;
                    return Ok(error_response(status, code, message));
                }
                Decision::Serve { delay, truncate } => (delay, truncate),
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if let AtGate::Wait(release) = &gate {
                release.notified().await;
            }
            let serialized = match &conditional {
                Some(lock) => Some(lock.lock().await),
                None => None,
            };
            let response = service.call(req.map(Body::from)).await;
            drop(serialized);
            if let AtGate::Release(release) = &gate {
                release.notify_one();
            }
            let response = response?;
            if !truncate || response.status() != StatusCode::OK {
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await.map_err(HttpError::new)?.to_bytes();
            faults.truncated.fetch_add(1, Ordering::Relaxed);
            let cut = CutBody {
                data: Some(bytes.slice(..bytes.len() / 2)),
                failed: false,
            };
            Ok(Response::from_parts(parts, Body::http_body_unsync(cut)))
        })
    }
}

/// A running test S3 server. Dropping it stops the server.
pub struct TestS3 {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The access key id it accepts ([`ACCESS_KEY`]).
    pub access_key: String,
    /// The secret key it accepts ([`SECRET_KEY`]).
    pub secret_key: String,
    /// The folder behind it: `<root>/<bucket>/<key>` is the object.
    pub root: TempDir,
    faults: Arc<FaultState>,
    gate: Arc<Mutex<Option<Gate>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestS3 {
    /// Starts a server on an ephemeral port of 127.0.0.1.
    pub fn start() -> Self {
        let root = tempfile::tempdir().expect("temp dir for the S3 server");
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1 for the S3 server");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let endpoint = format!("http://{}", listener.local_addr().expect("local address"));

        let fs = s3s_fs::FileSystem::new(root.path()).expect("s3s-fs over the temp dir");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let faults = Arc::new(FaultState::default());
        let gate = Arc::new(Mutex::new(None));
        let service = FaultyService {
            inner: builder.build(),
            faults: Arc::clone(&faults),
            conditional: Arc::new(tokio::sync::Mutex::new(())),
            gate: Arc::clone(&gate),
        };

        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("test-s3".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime of the S3 server");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    loop {
                        let stream = tokio::select! {
                            accepted = listener.accept() => match accepted {
                                Ok((stream, _)) => stream,
                                Err(_) => continue,
                            },
                            _ = &mut stop => break,
                        };
                        // Without this, Nagle's algorithm and the client's delayed ACK hold every
                        // response body back by ~40 ms (headers and body are separate writes).
                        let _ = stream.set_nodelay(true);
                        let connection = http
                            .serve_connection(TokioIo::new(stream), service.clone())
                            .into_owned();
                        tokio::spawn(async move {
                            let _ = connection.await;
                        });
                    }
                });
                // Dropping the runtime ends the connections still open.
            })
            .expect("spawn the S3 server thread");

        Self {
            endpoint,
            access_key: ACCESS_KEY.to_string(),
            secret_key: SECRET_KEY.to_string(),
            root,
            faults,
            gate,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The `sparkify` binary in `cwd`, its AWS chain pointed at this server (and nowhere else).
    pub fn sparkify(&self, cwd: &Path) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sparkify"));
        cmd.current_dir(cwd)
            .env_remove("SPARKIFY_LOG")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", &self.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_key)
            .env("AWS_REGION", REGION)
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", cwd.join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                cwd.join("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true");
        cmd
    }

    /// Holds the next PUT of `bucket/key` until another PUT of it has been served, so that two
    /// writers of the key commit in a known order: the first to arrive writes last.
    pub fn hold_put(&self, bucket: &str, key: &str) {
        self.hold_until(Method::PUT, bucket, key, key);
    }

    /// Holds the next `method` request of `bucket/key` until a `method` request of
    /// `bucket/release_key` has been served: a barrier that fixes the order in which two requests
    /// complete.
    pub fn hold_until(&self, method: Method, bucket: &str, key: &str, release_key: &str) {
        *self.gate.lock().unwrap_or_else(|e| e.into_inner()) = Some(Gate {
            method,
            path: format!("/{bucket}/{key}"),
            release_path: format!("/{bucket}/{release_key}"),
            holding: false,
            release: Arc::new(tokio::sync::Notify::new()),
        });
    }

    /// Makes every object under `bucket/prefix` look `by` older to the store (its file's
    /// modification time, which the server reports as `LastModified`).
    pub fn age(&self, bucket: &str, prefix: &str, by: std::time::Duration) {
        fn walk(path: &Path, when: std::time::SystemTime) {
            if path.is_dir() {
                for entry in std::fs::read_dir(path).expect("read folder") {
                    walk(&entry.expect("folder entry").path(), when);
                }
            } else {
                std::fs::File::options()
                    .write(true)
                    .open(path)
                    .and_then(|f| f.set_modified(when))
                    .expect("set modification time");
            }
        }
        let when = std::time::SystemTime::now() - by;
        walk(&self.root.path().join(bucket).join(prefix), when);
    }

    /// Creates a bucket (a folder under the root).
    pub fn create_bucket(&self, bucket: &str) {
        std::fs::create_dir_all(self.root.path().join(bucket)).expect("create bucket folder");
    }

    /// The file that holds an object.
    pub fn path_of(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join(bucket).join(key)
    }

    /// Writes an object directly into the store (fast seeding, no request).
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let path = self.path_of(bucket, key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create object folder");
        }
        std::fs::write(path, bytes).expect("write object");
    }

    /// Reads an object directly from the store.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path_of(bucket, key)).ok()
    }

    /// Every object key of a bucket, sorted, read directly from the store.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else if let Ok(rel) = path.strip_prefix(base) {
                    let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
                    out.push(parts.join("/"));
                }
            }
        }
        let base = self.root.path().join(bucket);
        let mut out = Vec::new();
        walk(&base, &base, &mut out);
        out.sort();
        out
    }

    /// Whether unfinished multipart uploads left parts behind.
    pub fn has_multipart_leftovers(&self) -> bool {
        std::fs::read_dir(self.root.path())
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".upload_id-"))
            })
            .unwrap_or(false)
    }

    /// Replaces the injected faults (and restarts their counters).
    pub fn set_faults(&self, faults: Faults) {
        self.faults.set(faults);
    }

    /// Stops injecting faults.
    pub fn clear_faults(&self) {
        self.faults.set(Faults::default());
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.faults.requests.load(Ordering::Relaxed)
    }

    /// Requests received so far with this HTTP method (DELETE counts aborted multipart uploads).
    pub fn requests_with(&self, method: &Method) -> u64 {
        self.faults
            .by_method
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    /// Errors injected so far.
    pub fn injected(&self) -> u64 {
        self.faults.injected.load(Ordering::Relaxed)
    }

    /// Bodies cut off so far.
    pub fn truncated(&self) -> u64 {
        self.faults.truncated.load(Ordering::Relaxed)
    }

    /// An endpoint on 127.0.0.1 where nothing listens (connections are refused).
    pub fn refused_endpoint() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        drop(listener);
        format!("http://{addr}")
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
