//! Input from S3: `s3://bucket/prefix` holding `song_data/` and `log_data/`.
//!
//! [`S3Source`] implements [`Source`]: listing with the ListObjectsV2 paginator, fanned out over
//! sub-prefixes when a listing is large ([`list`]), and concurrent, order-preserving GETs that feed
//! the bounded channel of the parse workers ([`fetch`]). Memory is bounded twice: an object larger
//! than the file limit is rejected without being fetched (and a body is never collected past it),
//! and the bytes of the objects fetched but not yet parsed stay within [`BYTES_IN_FLIGHT`]. Keys
//! with a hidden path segment (`.ipynb_checkpoints/`, `.x.json`) are skipped, as on a local disk.
//!
//! Locations, the client, whole-object GETs and error descriptions are [`crate::s3`]'s.

mod fetch;
mod list;

use std::fmt;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;

use super::{Error, Fetched, InputFile, Limits, Result, Source};
use crate::s3::{s3_client, S3Error, S3Location, S3Settings};

/// Default number of concurrent S3 requests of one [`S3Source`].
pub const DEFAULT_CONCURRENCY: usize = 64;

/// Most concurrent S3 requests of one [`S3Source`] (`--s3-concurrency`): more only adds
/// connections and memory, not speed.
pub const MAX_CONCURRENCY: usize = 256;

/// Bytes of objects fetched and not yet parsed, at most (plus one object, when an object larger
/// than half of it is fetched).
pub const BYTES_IN_FLIGHT: u64 = 256 << 20;

/// A listing is fanned out over sub-prefixes once it has more than this many pages (of 1,000 keys):
/// below that, paginating is quicker than discovering sub-prefixes level by level.
pub const DEFAULT_FANOUT_AFTER_PAGES: usize = 5;

/// The fan-out explores sub-prefixes until this many are known.
const FANOUT_TARGET: usize = 16;

/// How many levels of `/`-delimited sub-prefixes the fan-out explores at most.
const FANOUT_MAX_DEPTH: usize = 3;

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
            .map_err(|source| Error::Runtime { source })?;
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
            Err(join) => Err(S3Error::new(
                what,
                &self.inner.location.bucket,
                &key,
                "internal error: the S3 task failed",
            )
            .caused_by(join)
            .into()),
        }
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

    fn fetch(&self, files: &[InputFile], tx: SyncSender<Result<Fetched>>) {
        self.fetch_in_order(files, tx);
    }
}
