//! The run pointer `_latest` (written last, conditionally: the commit of a publish) and the COPY
//! manifests it names.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use serde::{Deserialize, Serialize};

use super::{PublishError, Result, LATEST, LATEST_FORMAT};
use crate::s3::error::is_precondition_failed;
use crate::s3::{get_object, GetError, S3Error, S3Location};

/// Largest run pointer or manifest read back.
const MAX_DOCUMENT_BYTES: u64 = 16 << 20;

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
    /// The run published before it.
    #[serde(default)]
    pub previous_run_id: Option<String>,
    /// The runs published before this one, newest first (the first is `previous_run_id`), at most
    /// [`MAX_HISTORY`]: what [`prune_runs`](super::prune_runs) keeps when told to keep more than
    /// the latest run. Absent in pointers written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<String>,
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

/// How many earlier runs a run pointer remembers (so at most this many + 1 runs can be kept).
pub const MAX_HISTORY: usize = 31;

impl LatestRun {
    /// The runs published before this one, newest first: [`LatestRun::history`], or only
    /// `previous_run_id` for a pointer that has no history.
    pub fn earlier_runs(&self) -> Vec<String> {
        if self.history.is_empty() {
            self.previous_run_id.iter().cloned().collect()
        } else {
            self.history.clone()
        }
    }

    /// The history a pointer published after this one records: this run, then its own history.
    pub fn history_after(&self) -> Vec<String> {
        let mut history = vec![self.run_id.clone()];
        history.extend(self.earlier_runs());
        history.truncate(MAX_HISTORY);
        history
    }

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

/// What the run pointer must be for a publish to replace it.
pub(super) enum Expected {
    /// Absent: nothing was published when the publish began.
    Absent,
    /// The object with this ETag, read when the publish began.
    Tag(String),
    /// Anything: the store gave no ETag to compare.
    Anything,
}

/// Writes the run pointer if it is still what the publish of `run_id` found (see [`Expected`]).
pub(super) async fn put_pointer(
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
        Err(e) if is_precondition_failed(&e) => Err(PublishError::PointerChanged {
            bucket: bucket.to_string(),
            key: key.to_string(),
            run_id: run_id.to_string(),
        }),
        Err(e) => Err(S3Error::sdk("put", bucket, key, e).into()),
    }
}

/// Reads the run pointer under `dest`: `None` when nothing has been published there yet.
pub async fn read_latest(client: &Client, dest: &S3Location) -> Result<Option<LatestRun>> {
    Ok(read_pointer(client, dest).await?.latest)
}

/// The run pointer as read, with what the store says about the object.
pub(super) struct Pointer {
    /// The pointer; `None` when nothing has been published.
    pub latest: Option<LatestRun>,
    /// Its ETag, for a conditional write over it.
    pub e_tag: Option<String>,
    /// When the store last wrote it.
    pub last_modified: Option<aws_sdk_s3::primitives::DateTime>,
}

/// Reads the run pointer under `dest`, with its ETag and modification time.
pub(super) async fn read_pointer(client: &Client, dest: &S3Location) -> Result<Pointer> {
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
    let object = match got {
        Ok(object) => object,
        Err(GetError::NotFound { .. }) => {
            return Ok(Pointer {
                latest: None,
                e_tag: None,
                last_modified: None,
            })
        }
        Err(GetError::TooLarge { .. }) => {
            return Err(PublishError::BadPointer {
                bucket: bucket.to_string(),
                key,
                source: format!("larger than {MAX_DOCUMENT_BYTES} bytes").into(),
            })
        }
        Err(GetError::Request(e)) => return Err(e.into()),
    };
    let latest: LatestRun =
        serde_json::from_slice(&object.bytes).map_err(|e| PublishError::BadPointer {
            bucket: bucket.to_string(),
            key: key.clone(),
            source: e.into(),
        })?;
    if latest.format != LATEST_FORMAT {
        return Err(PublishError::BadPointer {
            bucket: bucket.to_string(),
            key,
            source: format!(
                "format {} is not supported (expected {LATEST_FORMAT})",
                latest.format
            )
            .into(),
        });
    }
    Ok(Pointer {
        latest: Some(latest),
        e_tag: object.e_tag,
        last_modified: object.last_modified,
    })
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
    .map_err(|failure| match failure {
        GetError::NotFound {
            bucket,
            key,
            source,
        } => PublishError::NotFound {
            bucket,
            key,
            source,
        },
        GetError::TooLarge { bucket, key, limit } => PublishError::BadManifest {
            bucket,
            key,
            source: format!("larger than {limit} bytes").into(),
        },
        GetError::Request(e) => e.into(),
    })?;
    serde_json::from_slice(&object.bytes).map_err(|e| PublishError::BadManifest {
        bucket: bucket.to_string(),
        key: key.to_string(),
        source: e.into(),
    })
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
}
