//! Deleting the runs that are neither the published one nor the one before it.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;

use super::pointer::read_latest;
use super::upload::run_all;
use super::Result;
use crate::s3::{S3Error, S3Location};

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
        let page = page.map_err(|e| S3Error::sdk("list", bucket, &runs_prefix, e))?;
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
        let page = page.map_err(|e| S3Error::sdk("list", bucket, prefix, e))?;
        let ids = page
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| S3Error::new("delete", bucket, prefix, e.to_string()).caused_by(e))?;
        if ids.is_empty() {
            continue;
        }
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|e| S3Error::new("delete", bucket, prefix, e.to_string()).caused_by(e))?;
        let out = client
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| S3Error::sdk("delete", bucket, prefix, e))?;
        if let Some(err) = out.errors().first() {
            let description = format!(
                "{}: {}",
                err.code().unwrap_or("error"),
                err.message().unwrap_or("could not delete")
            );
            let key = err.key().unwrap_or(prefix);
            return Err(S3Error::new("delete", bucket, key, description).into());
        }
    }
    Ok(())
}
