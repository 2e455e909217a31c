//! Publishing a staged output folder to S3, atomically.
//!
//! The staged folder holds `<table>/part-NNNNN.parquet` and `_rejects/*.ndjson`. A publish writes,
//! under `s3://bucket/prefix`:
//!
//! ```text
//! runs/<run_id>/<table>/part-NNNNN.parquet    every Parquet file (nothing else under a table prefix)
//! runs/<run_id>/_rejects/<file>.ndjson        rejected records
//! runs/<run_id>/<table>.manifest              Redshift COPY manifest of the table's files
//! _latest                                     the run pointer, written last
//! ```
//!
//! `_latest` is the commit: a loader only ever follows it ([`read_latest`]), so it sees a whole run or
//! the previous one. A publish that fails at any point leaves `_latest`, and the run it names,
//! untouched. A run id is never reused, so a published run is never overwritten. [`prune_runs`]
//! deletes old runs, keeping the latest ones the run pointer names ([`KeepRuns`], by default the
//! published run and the one before it); a publish prunes after it commits.
//!
//! `_latest` is written with a conditional PUT: `If-Match` the ETag it had when the publish began
//! (`If-None-Match: *` when there was none), so of two publishes to one prefix at once, the one
//! that finishes second fails with [`PublishError::PointerChanged`] instead of silently replacing
//! the other's pointer (and losing its `previous_run_id`). A `_latest` that is not a run pointer
//! is never overwritten: the publish stops with [`PublishError::BadPointer`].
//!
//! The steps, one file each: [`staging`] reads the staged folder's layout, [`upload`] writes its
//! files (multipart when large), [`publish`] orders the steps, [`pointer`] writes and reads the run
//! pointer and the manifests, [`prune`] deletes old runs.

mod pointer;
mod prune;
mod publish;
mod staging;
mod upload;

pub use pointer::{
    read_latest, read_manifest, LatestRun, LatestTable, Manifest, ManifestEntry, ManifestMeta,
    MAX_HISTORY,
};
pub use prune::{prune_after_publish, prune_runs, KeepRuns, PruneReport};
pub use publish::{manifest_key, publish_to_s3, publish_to_s3_with, PublishReport};
pub use staging::validate_run_id;

use crate::s3::{Cause, S3Error};

/// Files larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
/// Size of one part of a multipart upload.
pub const PART_SIZE: u64 = 16 * 1024 * 1024;
/// Name of the run pointer object under the destination prefix.
pub const LATEST: &str = "_latest";
/// Version of the `_latest` document written by this code.
pub const LATEST_FORMAT: u32 = 1;

/// Errors of publishing or reading published runs.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The staged folder or one of its files could not be read.
    #[error("cannot read staged output {path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The staged folder is not laid out as `<table>/*.parquet` (+ `_rejects/`).
    #[error("cannot publish {path}: {reason}")]
    Staging {
        /// The offending file or folder.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The run id cannot name a folder of objects.
    #[error("invalid run id {run_id:?}: {reason}")]
    RunId {
        /// The run id given.
        run_id: String,
        /// What is wrong.
        reason: String,
    },
    /// Objects of this run id exist already; a published run is never overwritten.
    #[error("run {run_id} already exists at s3://{bucket}/{key}; use a new run id")]
    RunExists {
        /// The run id given.
        run_id: String,
        /// Bucket name.
        bucket: String,
        /// The run's key prefix.
        key: String,
    },
    /// An S3 request failed (after retries).
    #[error(transparent)]
    S3(#[from] S3Error),
    /// An object that must exist does not (a manifest named by the run pointer, for instance).
    #[error("S3 get s3://{bucket}/{key}: the object does not exist")]
    NotFound {
        /// Bucket name.
        bucket: String,
        /// The key.
        key: String,
        /// What S3 said.
        source: Cause,
    },
    /// A manifest or run pointer could not be encoded as JSON (a bug, not a data problem).
    #[error("cannot encode the {what} s3://{bucket}/{key}: {source}")]
    Encode {
        /// `manifest` or `run pointer`.
        what: &'static str,
        /// Bucket name.
        bucket: String,
        /// Its key.
        key: String,
        /// The encoder's error.
        source: serde_json::Error,
    },
    /// `_latest` changed between the start of this publish and its commit: another publish to the
    /// same prefix committed first.
    #[error("s3://{bucket}/{key} changed while run {run_id} was being published (another publish to the same prefix committed first); run {run_id} was not published; rerun to publish it")]
    PointerChanged {
        /// Bucket name.
        bucket: String,
        /// Key of the pointer.
        key: String,
        /// The run that was not published.
        run_id: String,
    },
    /// `_latest` exists but is not a run pointer this code understands.
    #[error("s3://{bucket}/{key} is not a valid run pointer: {source}")]
    BadPointer {
        /// Bucket name.
        bucket: String,
        /// Key of the pointer.
        key: String,
        /// What is wrong: the JSON parser's error, an unknown format, a size over the limit.
        source: Cause,
    },
    /// A COPY manifest exists but is not one.
    #[error("s3://{bucket}/{key} is not a valid COPY manifest: {source}")]
    BadManifest {
        /// Bucket name.
        bucket: String,
        /// Key of the manifest.
        key: String,
        /// What is wrong: the JSON parser's error, a size over the limit.
        source: Cause,
    },
}

/// Tuning of [`publish_to_s3_with`].
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Uploads in flight at once (at least 1).
    pub concurrency: usize,
    /// Files larger than this are uploaded in parts.
    pub multipart_threshold: u64,
    /// Part size of multipart uploads (S3 requires at least 5 MiB).
    pub part_size: u64,
    /// Row counts per table, recorded in `_latest` so that a loader can check what it loaded.
    pub rows: std::collections::BTreeMap<String, u64>,
}

impl Default for PublishOptions {
    fn default() -> Self {
        Self {
            concurrency: 16,
            multipart_threshold: MULTIPART_THRESHOLD,
            part_size: PART_SIZE,
            rows: std::collections::BTreeMap::new(),
        }
    }
}

/// Result alias of this module.
pub type Result<T, E = PublishError> = std::result::Result<T, E>;
