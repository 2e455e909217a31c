//! Uploading files and small documents, at most so many at a time.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use futures::StreamExt;

use super::{PublishError, PublishOptions, Result};
use crate::s3::error::describe_sdk_error;
use crate::s3::S3Error;

/// A file of the staged folder and where it goes.
#[derive(Debug, Clone)]
pub(super) struct Upload {
    pub path: PathBuf,
    pub key: String,
    pub size: u64,
    pub content_type: &'static str,
}

/// A request body of `len` bytes of `upload`'s file from `offset`.
async fn file_body(upload: &Upload, offset: u64, len: u64) -> Result<ByteStream> {
    ByteStream::read_from()
        .path(&upload.path)
        .offset(offset)
        .length(Length::Exact(len))
        .build()
        .await
        .map_err(|e| PublishError::Io {
            path: upload.path.display().to_string(),
            source: std::io::Error::other(e),
        })
}

/// Uploads one file, in parts when it is larger than the threshold. A failed multipart upload is
/// aborted so that no parts are left behind.
pub(super) async fn upload_file(
    client: &Client,
    bucket: &str,
    upload: &Upload,
    options: &PublishOptions,
) -> Result<()> {
    if upload.size <= options.multipart_threshold {
        let body = file_body(upload, 0, upload.size).await?;
        client
            .put_object()
            .bucket(bucket)
            .key(&upload.key)
            .content_type(upload.content_type)
            .content_length(i64::try_from(upload.size).unwrap_or(i64::MAX))
            .body(body)
            .send()
            .await
            .map_err(|e| S3Error::sdk("put", bucket, &upload.key, e))?;
        return Ok(());
    }

    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(&upload.key)
        .content_type(upload.content_type)
        .send()
        .await
        .map_err(|e| S3Error::sdk("create-multipart-upload", bucket, &upload.key, e))?;
    let Some(upload_id) = created.upload_id().map(str::to_string) else {
        let op = "create-multipart-upload";
        let description = "the response holds no upload id";
        return Err(S3Error::new(op, bucket, &upload.key, description).into());
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
        let body = file_body(upload, offset, len).await?;
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
                let mut err = S3Error::sdk("upload-part", bucket, &upload.key, e);
                err.description = format!("part {number}: {}", err.description);
                err
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
        .map_err(|e| S3Error::sdk("complete-multipart-upload", bucket, &upload.key, e))?;
    Ok(())
}

/// Writes a small in-memory object.
pub(super) async fn put_bytes(
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
        .map_err(|e| S3Error::sdk("put", bucket, key, e))?;
    Ok(())
}

/// Runs `jobs` at most `concurrency` at a time. After the first failure no further job starts, but
/// the ones in flight finish (so a multipart upload can abort itself). Returns the first error.
pub(super) async fn run_all<F, T>(jobs: Vec<F>, concurrency: usize) -> Result<Vec<T>>
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
