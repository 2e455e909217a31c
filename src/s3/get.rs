//! Reading a whole object, with retries of a body that breaks off mid-way (the SDK retries a
//! request only up to its response headers).

use std::time::Duration;

use aws_sdk_s3::Client;

use super::error::{error_chain, is_no_such_key, Cause, S3Error};

/// How a GET of a whole object failed.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// The key does not exist (`NoSuchKey`, or a 404 without a code).
    #[error("S3 get s3://{bucket}/{key}: NoSuchKey (HTTP 404) - the object does not exist")]
    NotFound {
        /// Bucket name.
        bucket: String,
        /// The key asked for.
        key: String,
        /// The SDK's error.
        source: Cause,
    },
    /// The object is larger than the limit it was fetched with: its `Content-Length` said so, or
    /// more bytes arrived. The body was not read past the limit.
    #[error("s3://{bucket}/{key} is larger than {limit} bytes")]
    TooLarge {
        /// Bucket name.
        bucket: String,
        /// The key.
        key: String,
        /// The limit.
        limit: u64,
    },
    /// The request failed otherwise.
    #[error(transparent)]
    Request(#[from] S3Error),
}

/// An object read whole.
#[derive(Debug)]
pub struct Object {
    /// Its content.
    pub bytes: Vec<u8>,
    /// Its ETag, for a conditional write over it.
    pub e_tag: Option<String>,
    /// When the store last wrote it (the store's clock).
    pub last_modified: Option<aws_sdk_s3::primitives::DateTime>,
}

/// Downloads the object `key` of `bucket`, of at most `limit` bytes ([`GetError::TooLarge`] without
/// reading the body when its `Content-Length` says more, and as soon as more arrives otherwise).
/// The SDK retries the request up to the response headers; a body that breaks off mid-way (or
/// comes out shorter than its `Content-Length`) is fetched again up to `body_retries` times, with
/// exponential back-off from `backoff`.
pub async fn get_object(
    client: &Client,
    bucket: &str,
    key: &str,
    body_retries: u32,
    backoff: Duration,
    limit: u64,
) -> Result<Object, GetError> {
    let too_large = || GetError::TooLarge {
        bucket: bucket.to_string(),
        key: key.to_string(),
        limit,
    };
    let mut attempt = 0u32;
    loop {
        let mut out = match client.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if is_no_such_key(&e) => {
                return Err(GetError::NotFound {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    source: Box::new(e),
                })
            }
            Err(e) => return Err(S3Error::sdk("get", bucket, key, e).into()),
        };
        let expected = out.content_length().and_then(|n| u64::try_from(n).ok());
        if expected.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut bytes = Vec::with_capacity(expected.unwrap_or(0) as usize);
        let (problem, cause): (String, Option<Cause>) = loop {
            match out.body.try_next().await {
                Ok(Some(chunk)) => {
                    if (bytes.len() + chunk.len()) as u64 > limit {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => match expected {
                    Some(n) if n != bytes.len() as u64 => {
                        break (
                            format!(
                                "body has {} bytes where Content-Length said {n}",
                                bytes.len()
                            ),
                            None,
                        )
                    }
                    _ => {
                        return Ok(Object {
                            bytes,
                            e_tag: out.e_tag().map(str::to_string),
                            last_modified: out.last_modified().copied(),
                        })
                    }
                },
                Err(e) => {
                    break (
                        format!("reading the body failed: {}", error_chain(&e)),
                        Some(Box::new(e)),
                    )
                }
            }
        };
        if attempt >= body_retries {
            let description = format!("{problem} (after {} attempts)", attempt + 1);
            let err = S3Error::new("get", bucket, key, description);
            return Err(match cause {
                Some(cause) => err.caused_by(cause),
                None => err,
            }
            .into());
        }
        let delay = backoff.saturating_mul(1u32 << attempt.min(10));
        tracing::debug!(bucket, key, attempt, "{problem}; retrying in {delay:?}");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}
