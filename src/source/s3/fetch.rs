//! Reading: concurrent, order-preserving GETs within a budget of bytes in flight, feeding the
//! bounded channel of the parse workers.

use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use futures::StreamExt;

use super::{Inner, S3Source, BYTES_IN_FLIGHT};
use crate::s3::{get_object, GetError, S3Error};
use crate::source::{decode, Error, Fetched, InputFile, Result};

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

impl Inner {
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
            .map_err(|e| {
                S3Error::new("get", bucket, &key, "internal error: budget closed").caused_by(e)
            })?;
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
            Err(GetError::TooLarge { .. }) => return Err(too_large(false)),
            Err(GetError::NotFound { source, .. }) => {
                return Err(Error::NotFound {
                    path: self.location.url_of(&key),
                    source,
                })
            }
            Err(GetError::Request(e)) => return Err(e.into()),
        };
        let bytes = if file.name.ends_with(".gz") {
            let url = self.location.url_of(&key);
            tokio::task::spawn_blocking(move || decode(&url, bytes, limit))
                .await
                .map_err(|e| {
                    S3Error::new("get", bucket, &key, "internal error: decoder task failed")
                        .caused_by(e)
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

impl S3Source {
    /// GETs run `concurrency` at a time on the runtime and arrive in listing order (`buffered`);
    /// the calling thread hands them to `tx`, so a full channel holds back further GETs. An object
    /// that is rejected on its own ([`Error::is_file_reject`]) is sent as its error; any other
    /// error is sent and ends the fetch.
    pub(super) fn fetch_in_order(&self, files: &[InputFile], tx: SyncSender<Result<Fetched>>) {
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
            let location = &self.inner.location;
            let failed = S3Error::new(
                "get",
                &location.bucket,
                &location.prefix,
                "internal error: the S3 fetch task failed",
            );
            let _ = tx.send(Err(failed.caused_by(join).into()));
        }
    }
}
