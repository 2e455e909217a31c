//! Input from S3: `s3://bucket/prefix` holding `song_data/` and `log_data/`.
//!
//! * [`S3Location`] parses and validates `s3://bucket/prefix` URLs and builds keys and URLs from them
//!   (never with a `//` after the bucket).
//! * [`s3_client`] builds an `aws_sdk_s3::Client` from [`S3Settings`]: the standard AWS chain (env,
//!   profile, `AWS_ENDPOINT_URL`), or an explicit endpoint and static credentials (tests, S3-compatible
//!   stores). Retries are bounded in attempts and in total time.
//! * [`S3Source`] implements [`Source`]: listing with the ListObjectsV2 paginator (fanned out over
//!   sub-prefixes when a listing is large) and concurrent, order-preserving GETs that feed the bounded
//!   channel of the parse workers. Memory is bounded twice: an object larger than the file limit is
//!   rejected without being fetched (and a body is never collected past it), and the bytes of the
//!   objects fetched but not yet parsed stay within [`BYTES_IN_FLIGHT`].
//!
//! Errors name the operation, bucket and key, and say what the service or the connection said. They
//! never contain credentials.

use std::fmt;
use std::str::FromStr;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;
use futures::{StreamExt, TryStreamExt};

use super::{decode, is_input_name, Error, Fetched, InputFile, Limits, Result, Source};

/// Default number of concurrent S3 requests of one [`S3Source`].
pub const DEFAULT_CONCURRENCY: usize = 64;

/// Most concurrent S3 requests of one [`S3Source`] (`--s3-concurrency`): more only adds
/// connections and memory, not speed.
pub const MAX_CONCURRENCY: usize = 256;

/// Bytes of objects fetched and not yet parsed, at most (plus one object, when an object larger
/// than half of it is fetched).
pub const BYTES_IN_FLIGHT: u64 = 256 << 20;

/// Largest run pointer or manifest read back.
pub(crate) const MAX_DOCUMENT_BYTES: u64 = 16 << 20;

/// Region used when neither the settings nor the AWS chain name one (S3 answers a request sent to the
/// wrong region with a redirect that names the right one, which ends up in the error message).
pub const FALLBACK_REGION: &str = "us-east-1";

/// A listing is fanned out over sub-prefixes once it has more than this many pages (of 1,000 keys):
/// below that, paginating is quicker than discovering sub-prefixes level by level.
pub const DEFAULT_FANOUT_AFTER_PAGES: usize = 5;

/// The fan-out explores sub-prefixes until this many are known.
const FANOUT_TARGET: usize = 16;

/// How many levels of `/`-delimited sub-prefixes the fan-out explores at most.
const FANOUT_MAX_DEPTH: usize = 3;

/// Longest S3 key, in bytes.
const MAX_KEY_LEN: usize = 1024;

// ---------------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------------

/// A bucket and a key prefix, parsed from `s3://bucket/prefix`.
///
/// The prefix has no leading or trailing `/` and no empty, `.` or `..` segment, so that
/// `prefix + "/" + name` never holds a `//` (Redshift reports `File not found` for such URLs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Location {
    /// Bucket name, validated against the S3 bucket naming rules.
    pub bucket: String,
    /// Key prefix without leading or trailing `/`; empty for the bucket root.
    pub prefix: String,
}

/// An `s3://` URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid S3 URL {url:?}: {reason}")]
pub struct S3UrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl S3Location {
    /// Parses `s3://bucket`, `s3://bucket/` or `s3://bucket/some/prefix/` (trailing `/` removed).
    pub fn parse(url: &str) -> std::result::Result<Self, S3UrlError> {
        let fail = |reason: String| S3UrlError {
            url: url.to_string(),
            reason,
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| fail("must start with s3://".into()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(fail("no bucket name after s3://".into()));
        }
        validate_bucket(bucket).map_err(|reason| fail(format!("bucket {bucket:?}: {reason}")))?;
        let prefix = prefix.trim_end_matches('/');
        validate_prefix(prefix).map_err(fail)?;
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The key of `relative` (a `/`-separated path) under the prefix.
    pub fn key(&self, relative: &str) -> String {
        let relative = relative.trim_start_matches('/');
        if self.prefix.is_empty() {
            relative.to_string()
        } else if relative.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}/{}", self.prefix, relative)
        }
    }

    /// The prefix as a "directory" key prefix: empty, or ending in exactly one `/`.
    pub fn dir_prefix(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// `s3://bucket/key` for a key in this location's bucket.
    pub fn url_of(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, key.trim_start_matches('/'))
    }

    /// The name of `key` relative to the prefix, if the key lies under it.
    pub fn relative<'k>(&self, key: &'k str) -> Option<&'k str> {
        if self.prefix.is_empty() {
            Some(key)
        } else {
            key.strip_prefix(&self.prefix)?.strip_prefix('/')
        }
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

impl FromStr for S3Location {
    type Err = S3UrlError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Checks the S3 bucket naming rules for general-purpose buckets.
fn validate_bucket(name: &str) -> std::result::Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err("must be 3 to 63 characters long".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "invalid character {c:?} (only lowercase letters, digits, '.' and '-')"
        ));
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err("must begin and end with a letter or digit".into());
    }
    if name.contains("..") {
        return Err("must not contain two adjacent periods".into());
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err("must not be formatted as an IP address".into());
    }
    if name.starts_with("xn--") || name.starts_with("sthree-") {
        return Err("must not start with a reserved prefix (xn--, sthree-)".into());
    }
    if name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        return Err("must not end with a reserved suffix (-s3alias, --ol-s3)".into());
    }
    Ok(())
}

/// Checks a key prefix (already stripped of trailing `/`).
fn validate_prefix(prefix: &str) -> std::result::Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    if prefix.len() > MAX_KEY_LEN / 2 {
        return Err(format!("prefix is longer than {} bytes", MAX_KEY_LEN / 2));
    }
    if prefix.chars().any(char::is_control) {
        return Err("prefix contains a control character".into());
    }
    for segment in prefix.split('/') {
        match segment {
            "" => {
                return Err("prefix contains an empty path segment (`//` or a leading `/`)".into())
            }
            "." | ".." => return Err(format!("prefix contains a {segment:?} path segment")),
            _ => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------------

/// Static credentials, for tests and S3-compatible stores. `Debug` never prints the secret.
#[derive(Clone)]
pub struct StaticCredentials {
    /// Access key id (not secret, but still only printed by explicit request).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl StaticCredentials {
    /// Long-term credentials without a session token.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// How to reach S3. `Default` means: the standard AWS chain for region, endpoint and credentials,
/// standard retries (5 attempts) and bounded timeouts.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Region; `None` uses `AWS_REGION` / the profile, then [`FALLBACK_REGION`].
    pub region: Option<String>,
    /// Endpoint URL of an S3-compatible store; `None` uses `AWS_ENDPOINT_URL(_S3)` / the profile,
    /// then AWS.
    pub endpoint_url: Option<String>,
    /// Explicit credentials; `None` uses the AWS chain (env, profile, SSO, container, IMDS).
    pub credentials: Option<StaticCredentials>,
    /// Path-style addressing (`endpoint/bucket/key`); `None` turns it on exactly when a custom
    /// endpoint is in use.
    pub force_path_style: Option<bool>,
    /// Attempts per request, the first included (SDK standard retry mode).
    pub max_attempts: u32,
    /// First retry delay; doubles (with jitter) up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response.
    pub read_timeout: Duration,
    /// Time bound of one attempt.
    pub attempt_timeout: Duration,
    /// Time bound of one operation, all its attempts and back-offs included.
    pub operation_timeout: Duration,
    /// Extra attempts of a GET whose body broke off mid-way (the SDK retries only up to the
    /// response headers).
    pub body_retries: u32,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            credentials: None,
            force_path_style: None,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(120),
            operation_timeout: Duration::from_secs(300),
            body_retries: 3,
        }
    }
}

/// Whether the environment names a custom S3 endpoint.
fn env_endpoint() -> Option<String> {
    let ignored = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if ignored {
        return None;
    }
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|v| !v.trim().is_empty())
}

/// Builds an S3 client from `settings` and the standard AWS chain.
///
/// With a custom endpoint (from the settings or `AWS_ENDPOINT_URL(_S3)`), the client uses path-style
/// addressing and computes and validates checksums only when an operation requires them, as
/// S3-compatible stores (MinIO, R2, s3s…) expect. Retries use the SDK's standard mode, bounded by
/// `max_attempts` and by `operation_timeout`.
pub async fn s3_client(settings: &S3Settings) -> Client {
    let retry = RetryConfig::standard()
        .with_max_attempts(settings.max_attempts.max(1))
        .with_initial_backoff(settings.initial_backoff)
        .with_max_backoff(settings.max_backoff);
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.read_timeout)
        .operation_attempt_timeout(settings.attempt_timeout)
        .operation_timeout(settings.operation_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(region) = settings.region.as_deref().filter(|r| !r.trim().is_empty()) {
        loader = loader.region(Region::new(region.trim().to_string()));
    }
    if let Some(endpoint) = settings.endpoint_url.as_deref() {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(c) = &settings.credentials {
        loader = loader.credentials_provider(Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            c.session_token.clone(),
            None,
            "sparkify",
        ));
    }
    let sdk = loader.load().await;

    let custom_endpoint =
        settings.endpoint_url.is_some() || sdk.endpoint_url().is_some() || env_endpoint().is_some();
    let mut config = aws_sdk_s3::config::Builder::from(&sdk);
    if sdk.region().is_none() {
        tracing::debug!("no AWS region configured; using {FALLBACK_REGION}");
        config = config.region(Region::from_static(FALLBACK_REGION));
    }
    if settings.force_path_style.unwrap_or(custom_endpoint) {
        config = config.force_path_style(true);
    }
    if custom_endpoint {
        config = config
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    }
    Client::from_conf(config.build())
}

// ---------------------------------------------------------------------------------------------------
// Error messages
// ---------------------------------------------------------------------------------------------------

/// One readable line for a failed S3 request: the service's error code and message plus a hint for
/// the usual causes, or what went wrong with the connection. Holds no credentials.
pub(crate) fn describe_sdk_error<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let raw = ctx.raw();
            let status = raw.status().as_u16();
            let region = raw.headers().get("x-amz-bucket-region").map(str::to_string);
            describe_service_error(ctx.err().code(), ctx.err().message(), status, region)
        }
        SdkError::TimeoutError(_) => {
            "timed out: the S3 endpoint did not answer in time (after retries)".to_string()
        }
        SdkError::DispatchFailure(failure) => {
            let what = if failure.is_timeout() {
                "timed out connecting to the S3 endpoint"
            } else if failure.is_io() {
                "cannot reach the S3 endpoint"
            } else {
                "request could not be sent"
            };
            format!("{what} (after retries): {}", error_chain(err))
        }
        SdkError::ResponseError(_) => format!(
            "unreadable response from the S3 endpoint: {}",
            error_chain(err)
        ),
        _ => error_chain(err),
    }
}

/// An error and its sources, `: `-separated, each once (the Display of wrapper errors often repeats
/// their source's).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

/// The message of an error answer of S3.
fn describe_service_error(
    code: Option<&str>,
    message: Option<&str>,
    status: u16,
    bucket_region: Option<String>,
) -> String {
    let hint = match (code, status) {
        (Some("NoSuchBucket"), _) => "the bucket does not exist".to_string(),
        (Some("NoSuchKey"), _) | (None, 404) => "the object does not exist".to_string(),
        (Some("AccessDenied" | "AllAccessDisabled"), _) | (None, 403) => {
            "access denied: the credentials in use may not read or write this bucket or key"
                .to_string()
        }
        (Some("InvalidAccessKeyId" | "NotSignedUp"), _) => {
            "the access key id is not known to the endpoint: check the AWS credentials".to_string()
        }
        (Some("SignatureDoesNotMatch"), _) => {
            "the request signature does not match: check the secret access key".to_string()
        }
        (Some("ExpiredToken" | "TokenRefreshRequired" | "InvalidToken"), _) => {
            "the session credentials have expired or are invalid".to_string()
        }
        (
            Some(
                "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraint",
            ),
            _,
        )
        | (None, 301) => match &bucket_region {
            Some(r) => format!(
                "the bucket is in region {r}: set that region (REGION in [S3], or AWS_REGION)"
            ),
            None => {
                "the bucket is in another region: set the right one (REGION in [S3], or AWS_REGION)"
                    .to_string()
            }
        },
        (Some("SlowDown"), _) | (None, 503) => {
            "S3 is throttling requests and retries were exhausted".to_string()
        }
        (_, 500..=599) => "the S3 endpoint failed and retries were exhausted".to_string(),
        _ => String::new(),
    };
    let mut out = match code {
        Some(code) => format!("{code} (HTTP {status})"),
        None => format!("HTTP {status}"),
    };
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        out.push_str(": ");
        out.push_str(m);
    }
    if !hint.is_empty() {
        out.push_str(" - ");
        out.push_str(&hint);
    }
    out
}

/// Whether a GET failed because the key does not exist.
pub(crate) fn is_no_such_key<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(ctx) => {
            ctx.err().code() == Some("NoSuchKey")
                || (ctx.err().code().is_none() && ctx.raw().status().as_u16() == 404)
        }
        _ => false,
    }
}

fn s3_error(op: &'static str, bucket: &str, key: &str, message: String) -> Error {
    Error::S3 {
        op,
        bucket: bucket.to_string(),
        key: key.to_string(),
        message,
    }
}

// ---------------------------------------------------------------------------------------------------
// Reading objects
// ---------------------------------------------------------------------------------------------------

/// How a GET of a whole object failed.
#[derive(Debug)]
pub(crate) enum GetFailure {
    /// The key does not exist.
    NotFound,
    /// The object is larger than the limit it was fetched with.
    TooLarge,
    /// Anything else, as a readable message.
    Other(String),
}

/// An object read whole.
#[derive(Debug)]
pub(crate) struct Object {
    /// Its content.
    pub bytes: Vec<u8>,
    /// Its ETag, for a conditional write over it.
    pub e_tag: Option<String>,
}

/// Downloads a whole object of at most `limit` bytes ([`GetFailure::TooLarge`] without reading
/// the body when its `Content-Length` says more, and as soon as more arrives otherwise). The SDK
/// retries the request up to the response headers; a body that breaks off mid-way (or comes out
/// shorter than its `Content-Length`) is fetched again up to `body_retries` times, with
/// exponential back-off from `backoff`.
pub(crate) async fn get_object(
    client: &Client,
    bucket: &str,
    key: &str,
    body_retries: u32,
    backoff: Duration,
    limit: u64,
) -> std::result::Result<Object, GetFailure> {
    let mut attempt = 0u32;
    loop {
        let mut out = match client.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if is_no_such_key(&e) => return Err(GetFailure::NotFound),
            Err(e) => return Err(GetFailure::Other(describe_sdk_error(&e))),
        };
        let expected = out.content_length().and_then(|n| u64::try_from(n).ok());
        if expected.is_some_and(|n| n > limit) {
            return Err(GetFailure::TooLarge);
        }
        let mut bytes = Vec::with_capacity(expected.unwrap_or(0) as usize);
        let problem = loop {
            match out.body.try_next().await {
                Ok(Some(chunk)) => {
                    if (bytes.len() + chunk.len()) as u64 > limit {
                        return Err(GetFailure::TooLarge);
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => match expected {
                    Some(n) if n != bytes.len() as u64 => {
                        break format!(
                            "body has {} bytes where Content-Length said {n}",
                            bytes.len()
                        )
                    }
                    _ => {
                        return Ok(Object {
                            bytes,
                            e_tag: out.e_tag().map(str::to_string),
                        })
                    }
                },
                Err(e) => break format!("reading the body failed: {}", error_chain(&e)),
            }
        };
        if attempt >= body_retries {
            return Err(GetFailure::Other(format!(
                "{problem} (after {} attempts)",
                attempt + 1
            )));
        }
        let delay = backoff.saturating_mul(1u32 << attempt.min(10));
        tracing::debug!(bucket, key, attempt, "{problem}; retrying in {delay:?}");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// Bytes that hold their share of [`BYTES_IN_FLIGHT`] until they are dropped.
struct Budgeted {
    bytes: Vec<u8>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Budgeted {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

// ---------------------------------------------------------------------------------------------------
// The source
// ---------------------------------------------------------------------------------------------------

/// The shared state of an [`S3Source`], moved into its tasks.
#[derive(Debug, Clone)]
struct Inner {
    client: Client,
    location: S3Location,
    concurrency: usize,
    fanout_after_pages: usize,
    body_retries: u32,
    backoff: Duration,
    limits: Limits,
    /// Permits for the bytes of fetched objects, [`BYTES_IN_FLIGHT`] in all, granted in request
    /// order (tokio's semaphore is fair), so the next object in listing order never waits on
    /// later ones.
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// Input files under `s3://bucket/prefix`, read with bounded concurrency.
///
/// The source runs its requests on a multi-threaded tokio runtime (its own, or one it is handed)
/// while [`Source::list`] and [`Source::fetch`] block the calling thread, which must not be a
/// runtime worker.
pub struct S3Source {
    inner: Arc<Inner>,
    handle: tokio::runtime::Handle,
    /// Kept alive when the source owns its runtime.
    _runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for S3Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Source")
            .field("location", &self.inner.location)
            .field("concurrency", &self.inner.concurrency)
            .finish_non_exhaustive()
    }
}

impl S3Source {
    /// A source over `location` that runs `client`'s requests on the multi-threaded runtime `handle`.
    /// Use the runtime the client was built on: its connections belong to it.
    pub fn new(client: Client, location: S3Location, handle: tokio::runtime::Handle) -> Self {
        let defaults = S3Settings::default();
        Self {
            inner: Arc::new(Inner {
                client,
                location,
                concurrency: DEFAULT_CONCURRENCY,
                fanout_after_pages: DEFAULT_FANOUT_AFTER_PAGES,
                body_retries: defaults.body_retries,
                backoff: defaults.initial_backoff,
                limits: Limits::default(),
                in_flight: Arc::new(tokio::sync::Semaphore::new(BYTES_IN_FLIGHT as usize)),
            }),
            handle,
            _runtime: None,
        }
    }

    /// A source with a runtime of its own and a client built from `settings`. Call it, and drop the
    /// source, outside any async context.
    pub fn connect(settings: &S3Settings, location: S3Location) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sparkify-s3")
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                path: location.to_string(),
                source,
            })?;
        let client = runtime.block_on(s3_client(settings));
        let mut source = Self::new(client, location, runtime.handle().clone())
            .with_body_retries(settings.body_retries, settings.initial_backoff);
        source._runtime = Some(runtime);
        Ok(source)
    }

    /// Sets how many requests run at once (1 to [`MAX_CONCURRENCY`]; default
    /// [`DEFAULT_CONCURRENCY`]).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.inner_mut().concurrency = concurrency.clamp(1, MAX_CONCURRENCY);
        self
    }

    /// Sets the bounds on what one object may cost.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.inner_mut().limits = limits;
        self
    }

    /// Sets after how many pages a listing fans out over sub-prefixes (at least 1; default
    /// [`DEFAULT_FANOUT_AFTER_PAGES`]).
    pub fn with_fanout_after_pages(mut self, pages: usize) -> Self {
        self.inner_mut().fanout_after_pages = pages.max(1);
        self
    }

    /// Sets how often a GET whose body broke off is retried, and the first back-off delay.
    pub fn with_body_retries(mut self, retries: u32, backoff: Duration) -> Self {
        let inner = self.inner_mut();
        inner.body_retries = retries;
        inner.backoff = backoff;
        self
    }

    /// The bucket and prefix read.
    pub fn location(&self) -> &S3Location {
        &self.inner.location
    }

    /// The client in use (for publishing to the same store, for instance).
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The runtime the source's requests run on.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    fn inner_mut(&mut self) -> &mut Inner {
        Arc::make_mut(&mut self.inner)
    }

    /// Runs `future` on the source's runtime and blocks until it is done.
    fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        key: String,
        future: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let task = self.handle.spawn(future);
        match futures::executor::block_on(task) {
            Ok(result) => result,
            Err(join) => Err(s3_error(
                what,
                &self.inner.location.bucket,
                &key,
                format!("internal error: the S3 task failed: {join}"),
            )),
        }
    }
}

/// The `(key, size)` of every object of a listing page.
fn keys_and_sizes(
    page: &aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output,
) -> impl Iterator<Item = (String, u64)> + '_ {
    page.contents().iter().filter_map(|o| {
        let size = u64::try_from(o.size().unwrap_or(0)).unwrap_or(0);
        o.key().map(|k| (k.to_string(), size))
    })
}

impl Inner {
    /// All keys and sizes under `prefix`, and with a delimiter the common prefixes, following every
    /// page of the listing.
    async fn list_all(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<(Vec<(String, u64)>, Vec<String>)> {
        let bucket = &self.location.bucket;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_string))
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        let mut prefixes = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| s3_error("list", bucket, prefix, describe_sdk_error(&e)))?;
            objects.extend(keys_and_sizes(&page));
            prefixes.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_string)),
            );
        }
        Ok((objects, prefixes))
    }

    /// Lists everything under `base` (a prefix ending in `/`): page by page when it holds at most
    /// `fanout_after_pages` pages of keys; otherwise discovers `/`-delimited sub-prefixes level by
    /// level (up to [`FANOUT_MAX_DEPTH`] levels or [`FANOUT_TARGET`] prefixes) and lists them
    /// concurrently.
    async fn list_tree(&self, base: &str) -> Result<Vec<(String, u64)>> {
        let bucket = &self.location.bucket;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(base)
            .into_paginator()
            .send();
        let mut listed = Vec::new();
        let mut seen = 0;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error("list", bucket, base, describe_sdk_error(&e)))?;
            listed.extend(keys_and_sizes(&page));
            seen += 1;
            if seen >= self.fanout_after_pages && page.is_truncated() == Some(true) {
                break;
            }
            if page.is_truncated() != Some(true) {
                return Ok(listed);
            }
        }
        if seen < self.fanout_after_pages {
            return Ok(listed);
        }

        let mut objects = Vec::new();
        let mut frontier = vec![base.to_string()];
        for _ in 0..FANOUT_MAX_DEPTH {
            if frontier.len() >= FANOUT_TARGET {
                break;
            }
            let levels: Vec<_> = futures::stream::iter(std::mem::take(&mut frontier))
                .map(|p| async move { self.list_all(&p, Some("/")).await })
                .buffer_unordered(self.concurrency)
                .try_collect()
                .await?;
            let mut next = Vec::new();
            for (objs, prefixes) in levels {
                objects.extend(objs);
                next.extend(prefixes);
            }
            frontier = next;
            if frontier.is_empty() {
                return Ok(objects);
            }
        }
        tracing::debug!(
            bucket = bucket.as_str(),
            prefix = base,
            sub_prefixes = frontier.len(),
            "listing sub-prefixes concurrently"
        );
        let lists: Vec<_> = futures::stream::iter(frontier)
            .map(|p| async move { self.list_all(&p, None).await })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        for (objs, _) in lists {
            objects.extend(objs);
        }
        Ok(objects)
    }

    async fn list(&self, dir: &str) -> Result<Vec<InputFile>> {
        let dir = dir.trim_matches('/');
        let base = if dir.is_empty() {
            self.location.dir_prefix()
        } else {
            format!("{}/", self.location.key(dir))
        };
        let mut files: Vec<InputFile> = self
            .list_tree(&base)
            .await?
            .into_iter()
            .filter_map(|(key, size)| {
                let name = self.location.relative(&key)?;
                is_input_name(name).then(|| InputFile {
                    name: name.to_string(),
                    size,
                })
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        files.dedup_by(|a, b| a.name == b.name);
        Ok(files)
    }

    /// GETs the object of `file` (the `index`-th of its listing) once it has its share of the
    /// bytes in flight, and decodes it.
    async fn fetch_one(&self, index: usize, file: InputFile) -> Result<Fetched> {
        let bucket = &self.location.bucket;
        let key = self.location.key(&file.name);
        let limit = self.limits.max_file_bytes;
        let too_large = |decompressed| Error::TooLarge {
            path: self.location.url_of(&key),
            limit,
            decompressed,
        };
        if file.size > limit {
            return Err(too_large(false));
        }
        // At most half: the other half may be held by buffers the parsers are still collecting.
        let share = file.size.clamp(1, BYTES_IN_FLIGHT / 2) as u32;
        let permit = Arc::clone(&self.in_flight)
            .acquire_many_owned(share)
            .await
            .map_err(|_| s3_error("get", bucket, &key, "internal error: budget closed".into()))?;
        let got = get_object(
            &self.client,
            bucket,
            &key,
            self.body_retries,
            self.backoff,
            limit,
        )
        .await;
        let bytes = match got {
            Ok(object) => object.bytes,
            Err(GetFailure::TooLarge) => return Err(too_large(false)),
            Err(GetFailure::NotFound) => {
                return Err(s3_error(
                    "get",
                    bucket,
                    &key,
                    "NoSuchKey (HTTP 404) - the object does not exist (deleted after listing?)"
                        .into(),
                ))
            }
            Err(GetFailure::Other(m)) => return Err(s3_error("get", bucket, &key, m)),
        };
        let bytes = if file.name.ends_with(".gz") {
            let url = self.location.url_of(&key);
            tokio::task::spawn_blocking(move || decode(&url, bytes, limit))
                .await
                .map_err(|e| {
                    s3_error(
                        "get",
                        bucket,
                        &key,
                        format!("internal error: decoder task failed: {e}"),
                    )
                })??
        } else {
            bytes
        };
        Ok(Fetched {
            index,
            name: file.name,
            bytes: bytes::Bytes::from_owner(Budgeted {
                bytes,
                _permit: permit,
            }),
            starts_file: true,
        })
    }
}

impl Source for S3Source {
    fn describe(&self) -> String {
        self.inner.location.to_string()
    }

    fn list(&self, dir: &str) -> Result<Vec<InputFile>> {
        let inner = Arc::clone(&self.inner);
        let owned = dir.to_string();
        let key = self.inner.location.key(dir);
        self.run("list", key, async move { inner.list(&owned).await })
    }

    /// GETs run `concurrency` at a time on the runtime and arrive in listing order (`buffered`);
    /// the calling thread hands them to `tx`, so a full channel holds back further GETs. An object
    /// that is rejected on its own ([`Error::is_file_reject`]) is sent as its error; any other
    /// error is sent and ends the fetch.
    fn fetch(&self, files: &[InputFile], tx: SyncSender<Result<Fetched>>) {
        if files.is_empty() {
            return;
        }
        let inner = Arc::clone(&self.inner);
        let jobs: Vec<(usize, InputFile)> = files.iter().cloned().enumerate().collect();
        let (bridge_tx, mut bridge_rx) = tokio::sync::mpsc::channel::<Result<Fetched>>(1);
        let task = self.handle.spawn(async move {
            let concurrency = inner.concurrency;
            let mut results = futures::stream::iter(jobs)
                .map(|(index, file)| {
                    let inner = Arc::clone(&inner);
                    async move { inner.fetch_one(index, file).await }
                })
                .buffered(concurrency);
            while let Some(result) = results.next().await {
                let failed = result.as_ref().is_err_and(|e| !e.is_file_reject());
                if bridge_tx.send(result).await.is_err() || failed {
                    return;
                }
            }
        });

        let mut hung_up = false;
        while let Some(item) = bridge_rx.blocking_recv() {
            if tx.send(item).is_err() {
                hung_up = true;
                break;
            }
        }
        drop(bridge_rx);
        if hung_up {
            // Cancel the GETs in flight; nobody wants their bytes.
            task.abort();
            return;
        }
        // The task ends early only by panicking or by its runtime shutting down: never let that
        // pass for a complete fetch.
        if let Err(join) = futures::executor::block_on(task) {
            let _ = tx.send(Err(s3_error(
                "get",
                &self.inner.location.bucket,
                &self.inner.location.prefix,
                format!("internal error: the S3 fetch task failed: {join}"),
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        let l = S3Location::parse("s3://udacity-dend").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("udacity-dend", ""));
        let l = S3Location::parse("s3://my.bucket-1/a/b/").unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.prefix.as_str()),
            ("my.bucket-1", "a/b")
        );
        assert_eq!(l.to_string(), "s3://my.bucket-1/a/b");
        assert_eq!(
            l.key("songs/part-00000.parquet"),
            "a/b/songs/part-00000.parquet"
        );
        assert_eq!(
            l.url_of(&l.key("x")),
            "s3://my.bucket-1/a/b/x",
            "no `//` after the bucket"
        );
        assert_eq!(l.relative("a/b/log_data/x.json"), Some("log_data/x.json"));
        assert_eq!(l.relative("a/bc/x.json"), None);
        let root = S3Location::parse("s3://bkt/").unwrap();
        assert_eq!(root.key("x/y"), "x/y");
        assert_eq!(root.url_of(&root.key("x")), "s3://bkt/x");
        assert_eq!(root.dir_prefix(), "");
        assert_eq!("s3://bkt/p//".parse::<S3Location>().unwrap().prefix, "p");
    }

    #[test]
    fn rejects_bad_locations() {
        for (url, needle) in [
            ("bucket/prefix", "s3://"),
            ("https://bucket/prefix", "s3://"),
            ("s3://", "no bucket"),
            ("s3:///prefix", "no bucket"),
            ("s3://ab", "3 to 63"),
            ("s3://My_Bucket", "invalid character"),
            ("s3://-bucket", "begin and end"),
            ("s3://a..b", "adjacent periods"),
            ("s3://192.168.1.1", "IP address"),
            ("s3://xn--bucket", "reserved prefix"),
            ("s3://bucket//p", "empty path segment"),
            ("s3://bucket/a//b", "empty path segment"),
            ("s3://bucket/a/../b", "\"..\""),
        ] {
            let err = S3Location::parse(url).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(needle), "{url}: {text}");
            assert!(text.contains(url), "{url}: {text}");
        }
    }

    #[test]
    fn credentials_debug_hides_the_secret() {
        let c = StaticCredentials {
            session_token: Some("tok-secret".into()),
            ..StaticCredentials::new("AKID", "very-secret")
        };
        let s = S3Settings {
            credentials: Some(c),
            ..S3Settings::default()
        };
        let text = format!("{s:?}");
        assert!(
            !text.contains("very-secret") && !text.contains("tok-secret"),
            "{text}"
        );
        assert!(text.contains("AKID"));
    }

    #[test]
    fn service_error_messages_have_hints() {
        let m = describe_service_error(
            Some("PermanentRedirect"),
            Some("use the right endpoint"),
            301,
            Some("eu-west-1".into()),
        );
        assert!(
            m.contains("eu-west-1") && m.contains("PermanentRedirect"),
            "{m}"
        );
        let m = describe_service_error(None, None, 403, None);
        assert!(m.contains("HTTP 403") && m.contains("access denied"), "{m}");
        let m = describe_service_error(Some("NoSuchBucket"), Some("gone"), 404, None);
        assert!(m.starts_with("NoSuchBucket (HTTP 404): gone"), "{m}");
    }
}
