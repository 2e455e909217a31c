//! A publish in order: data objects, then manifests, then the run pointer, the commit.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;

use super::pointer::{put_pointer, read_pointer, Expected};
use super::staging::{scan_staging, validate_run_id};
use super::upload::{put_bytes, run_all, upload_file, Upload};
use super::{
    LatestRun, LatestTable, Manifest, ManifestEntry, ManifestMeta, PublishError, PublishOptions,
    Result, LATEST, LATEST_FORMAT,
};
use crate::s3::{S3Error, S3Location};
use crate::sink::rejects::REJECTS_DIR;

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
    let pointer = read_pointer(client, dest).await?;
    let (previous, previous_tag) = (pointer.latest, pointer.e_tag);
    let existing = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&run_prefix)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| S3Error::sdk("list", bucket, &run_prefix, e))?;
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
        let body = serde_json::to_vec_pretty(&Manifest { entries })
            .map_err(|source| encode_error("manifest", bucket, &key, source))?;
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
        previous_run_id: previous.as_ref().map(|p| p.run_id.clone()),
        history: previous
            .as_ref()
            .map_or_else(Vec::new, LatestRun::history_after),
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
    let body = serde_json::to_vec_pretty(&latest)
        .map_err(|source| encode_error("run pointer", bucket, &latest_key, source))?;
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

fn encode_error(
    what: &'static str,
    bucket: &str,
    key: &str,
    source: serde_json::Error,
) -> PublishError {
    PublishError::Encode {
        what,
        bucket: bucket.to_string(),
        key: key.to_string(),
        source,
    }
}
