//! Deleting old runs: every run but the published one and the runs published just before it.
//!
//! What may be deleted is decided from the run pointer alone: the runs it names (the published
//! run and its [history](super::LatestRun::history)) are kept, newest first, up to the number asked
//! for. A run the pointer does not name is either an older published run or the leftover of a
//! publish that failed — or a publish still in progress. To never delete the last kind, a run is
//! deleted only when every one of its objects is older than the run pointer itself (both times
//! read from the store's clock): a publish that began before the pointer was last written can no
//! longer succeed, because its conditional write of the pointer will fail.

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;

use super::pointer::{read_pointer, MAX_HISTORY};
use super::upload::run_all;
use super::Result;
use crate::s3::{S3Error, S3Location};

/// How many runs a prune keeps: the published one and the runs published just before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepRuns {
    /// Keep every run (never prune).
    All,
    /// Keep this many runs (at least 1, at most [`KeepRuns::MAX`]).
    Latest(usize),
}

impl KeepRuns {
    /// The most runs a count can keep: the published run and the history its pointer records.
    pub const MAX: usize = MAX_HISTORY + 1;
    /// The default: the published run and the one before it, so that a load can still fall back.
    pub const DEFAULT: KeepRuns = KeepRuns::Latest(2);

    /// `[S3] KEEP_RUNS` of `config` (which `--keep-runs` overrides), else [`KeepRuns::DEFAULT`].
    pub fn from_config(config: &crate::config::Config) -> crate::config::Result<Self> {
        match config.get("S3", "KEEP_RUNS") {
            None => Ok(Self::DEFAULT),
            Some(value) => Self::parse(&value).map_err(|r| config.invalid("S3", "KEEP_RUNS", r)),
        }
    }

    /// Parses `all` or a count from 1 to [`KeepRuns::MAX`].
    pub fn parse(value: &str) -> std::result::Result<Self, String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("all") {
            return Ok(KeepRuns::All);
        }
        match value.parse::<usize>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(KeepRuns::Latest(n)),
            _ => Err(format!(
                "'{value}' is not a number of runs to keep: use 1 to {} or 'all'",
                Self::MAX
            )),
        }
    }
}

impl std::fmt::Display for KeepRuns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeepRuns::All => f.write_str("all"),
            KeepRuns::Latest(n) => write!(f, "{n}"),
        }
    }
}

/// What a prune did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PruneReport {
    /// The runs kept because the pointer names them, newest first.
    pub kept: Vec<String>,
    /// Runs the pointer does not name that have objects as new as the pointer (perhaps a publish
    /// in progress), left alone, in name order.
    pub spared: Vec<String>,
    /// The runs deleted (or to delete, dry), in name order.
    pub deleted: Vec<String>,
    /// Objects deleted (or to delete).
    pub objects: usize,
}

/// Deletes the runs under `dest` that `keep` does not keep (see the module documentation); with
/// `dry_run`, only reports what it would delete. Does nothing when nothing is published.
pub async fn prune_runs(
    client: &Client,
    dest: &S3Location,
    keep: KeepRuns,
    dry_run: bool,
    concurrency: usize,
) -> Result<PruneReport> {
    let pointer = read_pointer(client, dest).await?;
    let Some(latest) = pointer.latest else {
        return Ok(PruneReport::default());
    };
    let KeepRuns::Latest(count) = keep else {
        return Ok(PruneReport::default());
    };
    let mut kept = vec![latest.run_id.clone()];
    kept.extend(latest.earlier_runs());
    kept.truncate(count.max(1));
    // The pointer's own time; a store that gives none spares every run (nothing is provably old).
    let cutoff = pointer.last_modified;

    let bucket = dest.bucket.as_str();
    let runs_prefix = dest.key("runs/");
    let mut report = PruneReport {
        kept,
        ..PruneReport::default()
    };
    for (run, prefix) in list_runs(client, bucket, &runs_prefix).await? {
        if report.kept.contains(&run) {
            continue;
        }
        let (keys, newest) = list_objects(client, bucket, &prefix).await?;
        let old = match (newest, cutoff) {
            (Some(newest), Some(cutoff)) => is_before(newest, cutoff),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if !old {
            report.spared.push(run);
            continue;
        }
        report.objects += keys.len();
        if !dry_run {
            let chunks: Vec<_> = keys
                .chunks(1000)
                .map(|chunk| delete_keys(client, bucket, &prefix, chunk))
                .collect();
            run_all(chunks, concurrency).await?;
        }
        report.deleted.push(run);
    }
    report.spared.sort();
    report.deleted.sort();
    Ok(report)
}

/// Prunes `dest` after this process published a run there, keeping `keep` runs. The publish has
/// committed, so a failure to prune (a missing delete permission, say) is logged, not returned:
/// the runs are left for the next publish or `sparkify prune-runs`.
pub async fn prune_after_publish(client: &Client, dest: &S3Location, keep: KeepRuns) {
    match prune_runs(client, dest, keep, false, 8).await {
        Ok(report) if !report.deleted.is_empty() => tracing::info!(
            runs = ?report.deleted,
            objects = report.objects,
            "deleted old runs under {} (keeping {keep})",
            dest.url_of(&dest.key("runs/"))
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(
            "could not delete old runs under {} (the publish itself succeeded): {e}",
            dest.url_of(&dest.key("runs/"))
        ),
    }
}

/// `a` strictly before `b`.
fn is_before(a: DateTime, b: DateTime) -> bool {
    (a.secs(), a.subsec_nanos()) < (b.secs(), b.subsec_nanos())
}

/// The runs under `runs_prefix`, as (run id, key prefix ending in `/`).
async fn list_runs(
    client: &Client,
    bucket: &str,
    runs_prefix: &str,
) -> Result<Vec<(String, String)>> {
    let mut runs = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(runs_prefix)
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| S3Error::sdk("list", bucket, runs_prefix, e))?;
        for prefix in page.common_prefixes().iter().filter_map(|p| p.prefix()) {
            let run = prefix
                .strip_prefix(runs_prefix)
                .unwrap_or_default()
                .trim_end_matches('/');
            if !run.is_empty() {
                runs.push((run.to_string(), prefix.to_string()));
            }
        }
    }
    Ok(runs)
}

/// Every key under `prefix` and the newest modification time among them.
async fn list_objects(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<(Vec<String>, Option<DateTime>)> {
    let mut keys = Vec::new();
    let mut newest: Option<DateTime> = None;
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| S3Error::sdk("list", bucket, prefix, e))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            keys.push(key.to_string());
            // An object without a time cannot be proved old: treat it as new.
            let time = object
                .last_modified()
                .copied()
                .unwrap_or(DateTime::from_secs(i64::MAX));
            if newest.is_none_or(|n| is_before(n, time)) {
                newest = Some(time);
            }
        }
    }
    Ok((keys, newest))
}

/// Deletes `keys` (at most 1,000) of `bucket` in one request.
async fn delete_keys(client: &Client, bucket: &str, prefix: &str, keys: &[String]) -> Result<()> {
    let ids = keys
        .iter()
        .map(|k| ObjectIdentifier::builder().key(k).build())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| S3Error::new("delete", bucket, prefix, e.to_string()).caused_by(e))?;
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_runs_parses_counts_and_all() {
        assert_eq!(KeepRuns::parse("2"), Ok(KeepRuns::Latest(2)));
        assert_eq!(KeepRuns::parse(" ALL "), Ok(KeepRuns::All));
        assert_eq!(KeepRuns::parse("32"), Ok(KeepRuns::Latest(32)));
        for bad in ["0", "33", "-1", "two", ""] {
            let err = KeepRuns::parse(bad).unwrap_err();
            assert!(err.contains("1 to 32 or 'all'"), "{bad}: {err}");
        }
    }

    #[test]
    fn times_compare_to_the_nanosecond() {
        let a = DateTime::from_secs_and_nanos(10, 5);
        let b = DateTime::from_secs_and_nanos(10, 6);
        assert!(is_before(a, b));
        assert!(!is_before(b, a));
        assert!(!is_before(a, a));
    }
}
