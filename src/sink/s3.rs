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
//! deletes the runs that are neither the latest nor the one before it.
//!
//! `_latest` is written with a conditional PUT: `If-Match` the ETag it had when the publish began
//! (`If-None-Match: *` when there was none), so of two publishes to one prefix at once, the one
//! that finishes second fails with [`PublishError::PointerChanged`] instead of silently replacing
//! the other's pointer (and losing its `previous_run_id`). A `_latest` that is not a run pointer
//! is never overwritten: the publish stops with [`PublishError::BadPointer`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::source::s3::{
    describe_sdk_error, get_object, GetFailure, S3Location, MAX_DOCUMENT_BYTES,
};

/// Files larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
/// Size of one part of a multipart upload.
pub const PART_SIZE: u64 = 16 * 1024 * 1024;
/// Name of the run pointer object under the destination prefix.
pub const LATEST: &str = "_latest";
/// Folder of rejected records in the staged output (and in a run).
pub const REJECTS_DIR: &str = "_rejects";
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
    #[error("S3 {op} s3://{bucket}/{key}: {message}")]
    S3 {
        /// The operation (`list`, `get`, `put`, `upload-part`, `delete`, …).
        op: &'static str,
        /// Bucket name.
        bucket: String,
        /// Key or prefix.
        key: String,
        /// What the service or the connection said.
        message: String,
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
    #[error("s3://{bucket}/{key} is not a valid run pointer: {message}")]
    BadPointer {
        /// Bucket name.
        bucket: String,
        /// Key of the pointer.
        key: String,
        /// The parse error.
        message: String,
    },
}

/// Result alias of this module.
pub type Result<T, E = PublishError> = std::result::Result<T, E>;

/// What a successful publish wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// The run id published.
    pub run_id: String,
    /// Every data object written (Parquet and rejects), as (key, size in bytes), sorted by key.
    pub objects: Vec<(String, u64)>,
    /// Every manifest written, as (table, key), in table-name order.
    pub manifests: Vec<(String, String)>,
    /// The key of the run pointer that now names this run.
    pub latest_key: String,
    /// The run pointer as written, so that a loader can follow this run without reading it back
    /// (a later publish may already have replaced `_latest`).
    pub latest: LatestRun,
}

/// One table of a published run, as recorded in `_latest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestTable {
    /// Table name (the staged folder's name).
    pub name: String,
    /// Key of the table's COPY manifest.
    pub manifest_key: String,
    /// `s3://bucket/key` of the manifest, as `COPY … MANIFEST` takes it.
    pub manifest_url: String,
    /// Number of Parquet files.
    pub files: usize,
    /// Total size of the Parquet files in bytes.
    pub bytes: u64,
    /// Row count, when the publisher was told it ([`PublishOptions::rows`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

/// The run pointer `_latest`: which run is published and where its manifests are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestRun {
    /// Document version ([`LATEST_FORMAT`]).
    pub format: u32,
    /// The published run.
    pub run_id: String,
    /// The run published before it, kept by [`prune_runs`].
    #[serde(default)]
    pub previous_run_id: Option<String>,
    /// Bucket of the run.
    pub bucket: String,
    /// Key prefix of the run's objects, ending in `/`.
    pub run_prefix: String,
    /// Publication time, seconds since the Unix epoch.
    pub published_at: u64,
    /// The tables, in name order.
    pub tables: Vec<LatestTable>,
    /// Keys of the rejected-records files.
    #[serde(default)]
    pub rejects: Vec<String>,
}

impl LatestRun {
    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&LatestTable> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// A Redshift COPY manifest (`COPY … MANIFEST`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The files to load.
    pub entries: Vec<ManifestEntry>,
}

/// One file of a [`Manifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// `s3://bucket/key`.
    pub url: String,
    /// Whether COPY fails when the file is missing (always `true` here).
    pub mandatory: bool,
    /// File metadata; Redshift reads `content_length` for Parquet.
    pub meta: ManifestMeta,
}

/// The `meta` of a [`ManifestEntry`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestMeta {
    /// Object size in bytes.
    pub content_length: u64,
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

/// A file of the staged folder and where it goes.
#[derive(Debug, Clone)]
struct Upload {
    path: PathBuf,
    key: String,
    size: u64,
    content_type: &'static str,
}

/// A table of the staged folder.
#[derive(Debug)]
struct StagedTable {
    name: String,
    /// Files sorted by name.
    files: Vec<(PathBuf, String, u64)>,
}

/// The staged folder, scanned.
#[derive(Debug)]
struct Staged {
    tables: Vec<StagedTable>,
    rejects: Vec<(PathBuf, String, u64)>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn staging_error(path: &Path, reason: impl Into<String>) -> PublishError {
    PublishError::Staging {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn s3_error(op: &'static str, bucket: &str, key: &str, message: String) -> PublishError {
    PublishError::S3 {
        op,
        bucket: bucket.to_string(),
        key: key.to_string(),
        message,
    }
}

/// Checks that a run id can name a folder: 1–128 of `A-Z a-z 0-9 . _ -`, not starting with `.`.
pub fn validate_run_id(run_id: &str) -> Result<()> {
    let fail = |reason: &str| PublishError::RunId {
        run_id: run_id.to_string(),
        reason: reason.to_string(),
    };
    if run_id.is_empty() || run_id.len() > 128 {
        return Err(fail("must be 1 to 128 characters long"));
    }
    if !run_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(fail("only letters, digits, '.', '_' and '-' are allowed"));
    }
    if run_id.starts_with('.') {
        return Err(fail("must not start with '.'"));
    }
    Ok(())
}

/// Sorted regular files of `dir` as (path, file name, size); sub-folders are an error.
fn files_of(dir: &Path) -> Result<Vec<(PathBuf, String, u64)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(io_error(&path))?;
        if meta.is_dir() {
            return Err(staging_error(&path, "unexpected sub-folder"));
        }
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| staging_error(&path, "file name is not UTF-8"))?;
        out.push((path, name, meta.len()));
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Reads the layout of the staged folder.
fn scan_staging(staged: &Path) -> Result<Staged> {
    let mut tables = Vec::new();
    let mut rejects = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(staged)
        .map_err(io_error(staged))?
        .collect::<std::io::Result<_>>()
        .map_err(io_error(staged))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(name) = entry.file_name().into_string() else {
            return Err(staging_error(&path, "name is not UTF-8"));
        };
        let meta = std::fs::metadata(&path).map_err(io_error(&path))?;
        if !meta.is_dir() {
            if name != crate::sink::marker::MARKER {
                tracing::warn!(path = %path.display(), "not published: not in a table folder");
            }
            continue;
        }
        if name == REJECTS_DIR {
            for (file, fname, size) in files_of(&path)? {
                if fname.ends_with(".ndjson") {
                    rejects.push((file, fname, size));
                } else {
                    tracing::warn!(path = %file.display(), "not published: not a .ndjson file");
                }
            }
            continue;
        }
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(staging_error(
                &path,
                "a table folder name must be a lowercase SQL identifier",
            ));
        }
        let mut files = Vec::new();
        for (file, fname, size) in files_of(&path)? {
            if fname.ends_with(".parquet") && !fname.starts_with('.') {
                files.push((file, fname, size));
            } else {
                tracing::warn!(path = %file.display(), "not published: not a .parquet file");
            }
        }
        tables.push(StagedTable { name, files });
    }
    if tables.is_empty() {
        return Err(staging_error(staged, "no table folders to publish"));
    }
    Ok(Staged { tables, rejects })
}

/// Uploads one file, in parts when it is larger than the threshold. A failed multipart upload is
/// aborted so that no parts are left behind.
async fn upload_file(
    client: &Client,
    bucket: &str,
    upload: &Upload,
    options: &PublishOptions,
) -> Result<()> {
    if upload.size <= options.multipart_threshold {
        let body = ByteStream::read_from()
            .path(&upload.path)
            .length(Length::Exact(upload.size))
            .build()
            .await
            .map_err(|e| PublishError::Io {
                path: upload.path.display().to_string(),
                source: std::io::Error::other(e),
            })?;
        client
            .put_object()
            .bucket(bucket)
            .key(&upload.key)
            .content_type(upload.content_type)
            .content_length(i64::try_from(upload.size).unwrap_or(i64::MAX))
            .body(body)
            .send()
            .await
            .map_err(|e| s3_error("put", bucket, &upload.key, describe_sdk_error(&e)))?;
        return Ok(());
    }

    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(&upload.key)
        .content_type(upload.content_type)
        .send()
        .await
        .map_err(|e| {
            s3_error(
                "create-multipart-upload",
                bucket,
                &upload.key,
                describe_sdk_error(&e),
            )
        })?;
    let Some(upload_id) = created.upload_id().map(str::to_string) else {
        return Err(s3_error(
            "create-multipart-upload",
            bucket,
            &upload.key,
            "the response holds no upload id".to_string(),
        ));
    };
    let result = upload_parts(client, bucket, upload, &upload_id, options).await;
    if result.is_err() {
        if let Err(e) = client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(&upload.key)
            .upload_id(&upload_id)
            .send()
            .await
        {
            tracing::warn!(
                bucket,
                key = upload.key.as_str(),
                "could not abort the multipart upload: {}",
                describe_sdk_error(&e)
            );
        }
    }
    result
}

async fn upload_parts(
    client: &Client,
    bucket: &str,
    upload: &Upload,
    upload_id: &str,
    options: &PublishOptions,
) -> Result<()> {
    let part_size = options.part_size.max(5 * 1024 * 1024);
    let mut parts = Vec::new();
    let mut offset = 0u64;
    let mut number = 1i32;
    while offset < upload.size {
        let len = part_size.min(upload.size - offset);
        let body = ByteStream::read_from()
            .path(&upload.path)
            .offset(offset)
            .length(Length::Exact(len))
            .build()
            .await
            .map_err(|e| PublishError::Io {
                path: upload.path.display().to_string(),
                source: std::io::Error::other(e),
            })?;
        let out = client
            .upload_part()
            .bucket(bucket)
            .key(&upload.key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(i64::try_from(len).unwrap_or(i64::MAX))
            .body(body)
            .send()
            .await
            .map_err(|e| {
                s3_error(
                    "upload-part",
                    bucket,
                    &upload.key,
                    format!("part {number}: {}", describe_sdk_error(&e)),
                )
            })?;
        parts.push(
            CompletedPart::builder()
                .set_e_tag(out.e_tag().map(str::to_string))
                .part_number(number)
                .build(),
        );
        offset += len;
        number += 1;
    }
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(&upload.key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            s3_error(
                "complete-multipart-upload",
                bucket,
                &upload.key,
                describe_sdk_error(&e),
            )
        })?;
    Ok(())
}

/// Writes a small in-memory object.
async fn put_bytes(
    client: &Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<()> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| s3_error("put", bucket, key, describe_sdk_error(&e)))?;
    Ok(())
}

/// Runs `jobs` at most `concurrency` at a time. After the first failure no further job starts, but
/// the ones in flight finish (so a multipart upload can abort itself). Returns the first error.
async fn run_all<F, T>(jobs: Vec<F>, concurrency: usize) -> Result<Vec<T>>
where
    F: std::future::Future<Output = Result<T>>,
{
    let failed = AtomicBool::new(false);
    let failed = &failed;
    let results: Vec<Option<Result<T>>> = futures::stream::iter(jobs)
        .map(|job| async move {
            if failed.load(Ordering::Relaxed) {
                return None;
            }
            let result = job.await;
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            Some(result)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut out = Vec::with_capacity(results.len());
    let mut first_error = None;
    for result in results.into_iter().flatten() {
        match result {
            Ok(v) => out.push(v),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Publishes the staged folder as run `run_id` under `dest` with default options and the given
/// upload concurrency. See [`publish_to_s3_with`].
pub async fn publish_to_s3(
    client: &Client,
    staged: &Path,
    dest: &S3Location,
    run_id: &str,
    concurrency: usize,
) -> Result<PublishReport> {
    let options = PublishOptions {
        concurrency,
        ..PublishOptions::default()
    };
    publish_to_s3_with(client, staged, dest, run_id, &options).await
}

/// Publishes the staged folder as run `run_id` under `dest`: uploads every file, then the COPY
/// manifests, then — last — the run pointer `_latest`. Fails without touching `_latest` when any
/// step fails, and refuses a run id that has objects already.
pub async fn publish_to_s3_with(
    client: &Client,
    staged: &Path,
    dest: &S3Location,
    run_id: &str,
    options: &PublishOptions,
) -> Result<PublishReport> {
    validate_run_id(run_id)?;
    let layout = scan_staging(staged)?;
    let bucket = dest.bucket.as_str();
    let run_prefix = dest.key(&format!("runs/{run_id}/"));

    // Never overwrite a run: not the published one, nor a leftover of a failed attempt.
    let (previous, previous_tag) = read_pointer(client, dest).await?;
    let existing = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&run_prefix)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| s3_error("list", bucket, &run_prefix, describe_sdk_error(&e)))?;
    if previous.as_ref().is_some_and(|p| p.run_id == run_id) || !existing.contents().is_empty() {
        return Err(PublishError::RunExists {
            run_id: run_id.to_string(),
            bucket: bucket.to_string(),
            key: run_prefix,
        });
    }

    // 1. Data objects.
    let mut uploads = Vec::new();
    for table in &layout.tables {
        for (path, name, size) in &table.files {
            uploads.push(Upload {
                path: path.clone(),
                key: format!("{run_prefix}{}/{name}", table.name),
                size: *size,
                content_type: "application/vnd.apache.parquet",
            });
        }
    }
    let mut reject_keys = Vec::new();
    for (path, name, size) in &layout.rejects {
        let key = format!("{run_prefix}{REJECTS_DIR}/{name}");
        reject_keys.push(key.clone());
        uploads.push(Upload {
            path: path.clone(),
            key,
            size: *size,
            content_type: "application/x-ndjson",
        });
    }
    // Large files first, so that they do not trail at the end.
    uploads.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.key.cmp(&b.key)));
    let jobs: Vec<_> = uploads
        .iter()
        .map(|u| async move {
            upload_file(client, bucket, u, options).await?;
            Ok((u.key.clone(), u.size))
        })
        .collect();
    let mut objects = run_all(jobs, options.concurrency).await?;
    objects.sort();
    tracing::debug!(
        bucket,
        run_prefix,
        objects = objects.len(),
        "data objects uploaded"
    );

    // 2. Manifests.
    let mut manifests = Vec::new();
    let mut latest_tables = Vec::new();
    let mut manifest_jobs = Vec::new();
    for table in &layout.tables {
        let entries: Vec<ManifestEntry> = table
            .files
            .iter()
            .map(|(_, name, size)| ManifestEntry {
                url: dest.url_of(&format!("{run_prefix}{}/{name}", table.name)),
                mandatory: true,
                meta: ManifestMeta {
                    content_length: *size,
                },
            })
            .collect();
        let key = manifest_key(dest, run_id, &table.name);
        let body = serde_json::to_vec_pretty(&Manifest { entries }).map_err(|e| {
            s3_error(
                "put",
                bucket,
                &key,
                format!("cannot encode the manifest: {e}"),
            )
        })?;
        manifests.push((table.name.clone(), key.clone()));
        latest_tables.push(LatestTable {
            name: table.name.clone(),
            manifest_url: dest.url_of(&key),
            manifest_key: key.clone(),
            files: table.files.len(),
            bytes: table.files.iter().map(|f| f.2).sum(),
            rows: options.rows.get(&table.name).copied(),
        });
        manifest_jobs
            .push(async move { put_bytes(client, bucket, &key, body, "application/json").await });
    }
    run_all(manifest_jobs, options.concurrency).await?;

    // 3. The commit.
    let latest = LatestRun {
        format: LATEST_FORMAT,
        run_id: run_id.to_string(),
        previous_run_id: previous.map(|p| p.run_id),
        bucket: bucket.to_string(),
        run_prefix: run_prefix.clone(),
        published_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs(),
        tables: latest_tables,
        rejects: reject_keys,
    };
    let latest_key = dest.key(LATEST);
    let body = serde_json::to_vec_pretty(&latest).map_err(|e| {
        s3_error(
            "put",
            bucket,
            &latest_key,
            format!("cannot encode the run pointer: {e}"),
        )
    })?;
    let expected = match (&latest.previous_run_id, previous_tag) {
        (None, _) => Expected::Absent,
        (Some(_), Some(tag)) => Expected::Tag(tag),
        (Some(_), None) => Expected::Anything,
    };
    put_pointer(client, bucket, &latest_key, run_id, body, expected).await?;
    tracing::info!(bucket, run_id, "published s3://{bucket}/{run_prefix}");

    Ok(PublishReport {
        run_id: run_id.to_string(),
        objects,
        manifests,
        latest_key,
        latest,
    })
}

/// The key of a table's COPY manifest in run `run_id` under `dest`:
/// `<prefix>/runs/<run_id>/<table>.manifest`.
pub fn manifest_key(dest: &S3Location, run_id: &str, table: &str) -> String {
    dest.key(&format!("runs/{run_id}/{table}.manifest"))
}

/// What the run pointer must be for a publish to replace it.
enum Expected {
    /// Absent: nothing was published when the publish began.
    Absent,
    /// The object with this ETag, read when the publish began.
    Tag(String),
    /// Anything: the store gave no ETag to compare.
    Anything,
}

/// Writes the run pointer if it is still what the publish of `run_id` found (see [`Expected`]).
async fn put_pointer(
    client: &Client,
    bucket: &str,
    key: &str,
    run_id: &str,
    body: Vec<u8>,
    expected: Expected,
) -> Result<()> {
    let put = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(body));
    let put = match expected {
        Expected::Absent => put.if_none_match("*"),
        Expected::Tag(tag) => put.if_match(tag),
        Expected::Anything => {
            tracing::warn!(
                bucket,
                key,
                "the store gave no ETag for the run pointer: written without a condition"
            );
            put
        }
    };
    match put.send().await {
        Ok(_) => Ok(()),
        Err(e) if lost_the_race(&e) => Err(PublishError::PointerChanged {
            bucket: bucket.to_string(),
            key: key.to_string(),
            run_id: run_id.to_string(),
        }),
        Err(e) => Err(s3_error("put", bucket, key, describe_sdk_error(&e))),
    }
}

/// Whether a conditional PUT failed because its condition no longer holds: 412
/// `PreconditionFailed`, or 409 `ConditionalRequestConflict` (another conditional write to the
/// key was in progress).
fn lost_the_race<E: aws_sdk_s3::error::ProvideErrorMetadata>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    match err {
        aws_sdk_s3::error::SdkError::ServiceError(ctx) => {
            matches!(
                ctx.err().code(),
                Some("PreconditionFailed" | "ConditionalRequestConflict")
            ) || matches!(ctx.raw().status().as_u16(), 409 | 412)
        }
        _ => false,
    }
}

/// Reads the run pointer under `dest`: `None` when nothing has been published there yet.
pub async fn read_latest(client: &Client, dest: &S3Location) -> Result<Option<LatestRun>> {
    Ok(read_pointer(client, dest).await?.0)
}

/// Reads the run pointer under `dest` and its ETag.
async fn read_pointer(
    client: &Client,
    dest: &S3Location,
) -> Result<(Option<LatestRun>, Option<String>)> {
    let bucket = dest.bucket.as_str();
    let key = dest.key(LATEST);
    let got = get_object(
        client,
        bucket,
        &key,
        3,
        Duration::from_millis(200),
        MAX_DOCUMENT_BYTES,
    )
    .await;
    let (bytes, e_tag) = match got {
        Ok(object) => (object.bytes, object.e_tag),
        Err(GetFailure::NotFound) => return Ok((None, None)),
        Err(GetFailure::TooLarge) => {
            return Err(PublishError::BadPointer {
                bucket: bucket.to_string(),
                key,
                message: format!("larger than {MAX_DOCUMENT_BYTES} bytes"),
            })
        }
        Err(GetFailure::Other(message)) => return Err(s3_error("get", bucket, &key, message)),
    };
    let latest: LatestRun =
        serde_json::from_slice(&bytes).map_err(|e| PublishError::BadPointer {
            bucket: bucket.to_string(),
            key: key.clone(),
            message: e.to_string(),
        })?;
    if latest.format != LATEST_FORMAT {
        return Err(PublishError::BadPointer {
            bucket: bucket.to_string(),
            key,
            message: format!(
                "format {} is not supported (expected {LATEST_FORMAT})",
                latest.format
            ),
        });
    }
    Ok((Some(latest), e_tag))
}

/// Reads a table's COPY manifest.
pub async fn read_manifest(client: &Client, bucket: &str, key: &str) -> Result<Manifest> {
    let object = get_object(
        client,
        bucket,
        key,
        3,
        Duration::from_millis(200),
        MAX_DOCUMENT_BYTES,
    )
    .await
    .map_err(|failure| {
        let message = match failure {
            GetFailure::NotFound => "the manifest does not exist".to_string(),
            GetFailure::TooLarge => format!("larger than {MAX_DOCUMENT_BYTES} bytes"),
            GetFailure::Other(m) => m,
        };
        s3_error("get", bucket, key, message)
    })?;
    let bytes = object.bytes;
    serde_json::from_slice(&bytes).map_err(|e| PublishError::BadPointer {
        bucket: bucket.to_string(),
        key: key.to_string(),
        message: e.to_string(),
    })
}

/// Deletes every run under `dest` except the published one and the one published before it.
/// Does nothing when nothing is published. Returns the run ids deleted.
///
/// Run it only while no other publish to `dest` is in progress: an unfinished run is not yet
/// named by `_latest` and would be deleted.
pub async fn prune_runs(
    client: &Client,
    dest: &S3Location,
    concurrency: usize,
) -> Result<Vec<String>> {
    let Some(latest) = read_latest(client, dest).await? else {
        return Ok(Vec::new());
    };
    let bucket = dest.bucket.as_str();
    let runs_prefix = dest.key("runs/");
    let mut run_prefixes = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&runs_prefix)
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| s3_error("list", bucket, &runs_prefix, describe_sdk_error(&e)))?;
        run_prefixes.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
    }
    let keep = |run: &str| run == latest.run_id || latest.previous_run_id.as_deref() == Some(run);
    let doomed: Vec<(String, String)> = run_prefixes
        .into_iter()
        .filter_map(|p| {
            let run = p
                .strip_prefix(&runs_prefix)?
                .trim_end_matches('/')
                .to_string();
            (!run.is_empty() && !keep(&run)).then_some((run, p))
        })
        .collect();
    let jobs: Vec<_> = doomed
        .iter()
        .map(|(run, prefix)| async move {
            delete_prefix(client, bucket, prefix).await?;
            Ok(run.clone())
        })
        .collect();
    let mut deleted = run_all(jobs, concurrency).await?;
    deleted.sort();
    Ok(deleted)
}

/// Deletes every object under `prefix`, 1,000 keys per request.
async fn delete_prefix(client: &Client, bucket: &str, prefix: &str) -> Result<()> {
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| s3_error("list", bucket, prefix, describe_sdk_error(&e)))?;
        let ids = page
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| s3_error("delete", bucket, prefix, e.to_string()))?;
        if ids.is_empty() {
            continue;
        }
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|e| s3_error("delete", bucket, prefix, e.to_string()))?;
        let out = client
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| s3_error("delete", bucket, prefix, describe_sdk_error(&e)))?;
        if let Some(err) = out.errors().first() {
            return Err(s3_error(
                "delete",
                bucket,
                err.key().unwrap_or(prefix),
                format!(
                    "{}: {}",
                    err.code().unwrap_or("error"),
                    err.message().unwrap_or("could not delete")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_has_redshift_shape() {
        let m = Manifest {
            entries: vec![ManifestEntry {
                url: "s3://b/p/runs/r1/songs/part-00000.parquet".into(),
                mandatory: true,
                meta: ManifestMeta { content_length: 42 },
            }],
        };
        let v: serde_json::Value = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"entries":[{"url":"s3://b/p/runs/r1/songs/part-00000.parquet",
                "mandatory":true,"meta":{"content_length":42}}]})
        );
    }

    #[test]
    fn run_ids_are_checked() {
        for ok in ["20240101T000000Z", "run-1", "a.b_c"] {
            validate_run_id(ok).unwrap();
        }
        for bad in ["", "a/b", ".hidden", "a b", "ü"] {
            assert!(validate_run_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn staging_layout_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            scan_staging(dir.path()),
            Err(PublishError::Staging { .. })
        ));
        std::fs::create_dir_all(dir.path().join("songs")).unwrap();
        std::fs::write(dir.path().join("songs/part-00001.parquet"), b"b").unwrap();
        std::fs::write(dir.path().join("songs/part-00000.parquet"), b"a").unwrap();
        std::fs::write(dir.path().join("songs/_SUCCESS"), b"").unwrap();
        std::fs::create_dir_all(dir.path().join("_rejects")).unwrap();
        std::fs::write(dir.path().join("_rejects/events.ndjson"), b"{}\n").unwrap();
        let s = scan_staging(dir.path()).unwrap();
        assert_eq!(s.tables.len(), 1);
        let names: Vec<_> = s.tables[0].files.iter().map(|f| f.1.as_str()).collect();
        assert_eq!(names, ["part-00000.parquet", "part-00001.parquet"]);
        assert_eq!(s.rejects.len(), 1);
        std::fs::create_dir_all(dir.path().join("songs/nested")).unwrap();
        assert!(matches!(
            scan_staging(dir.path()),
            Err(PublishError::Staging { .. })
        ));
    }
}
