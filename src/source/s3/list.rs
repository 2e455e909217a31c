//! Listing: the ListObjectsV2 paginator, fanned out over sub-prefixes when a listing is large.

use futures::{StreamExt, TryStreamExt};

use super::{Inner, FANOUT_MAX_DEPTH, FANOUT_TARGET};
use crate::s3::S3Error;
use crate::source::{is_listed_name, InputFile, Result};

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
            let page = page.map_err(|e| S3Error::sdk("list", bucket, prefix, e))?;
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
            let page = page.map_err(|e| S3Error::sdk("list", bucket, base, e))?;
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

    pub(super) async fn list(&self, dir: &str) -> Result<Vec<InputFile>> {
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
                is_listed_name(name).then(|| InputFile {
                    name: name.to_string(),
                    size,
                })
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        files.dedup_by(|a, b| a.name == b.name);
        Ok(files)
    }
}
