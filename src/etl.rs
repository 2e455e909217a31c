//! Executing a transform plan: open the source, stage the output, transform, judge the rejects,
//! publish (a local folder swap, or an S3 run published behind its `_latest` pointer).

use std::path::{Path, PathBuf};

use crate::plan::{Location, TransformPlan};
use crate::run::{transform, TransformOptions};
use crate::sink::publish::{run_id, Staging};
use crate::sink::rejects::{write_rejects, REJECTS_DIR};
use crate::sink::s3::{publish_to_s3_with, PublishOptions};
use crate::source::local::LocalSource;
use crate::source::s3::{s3_client, S3Location, S3Settings, S3Source};
use crate::source::Source;
use crate::summary::RunSummary;
use crate::{Error, Progress, Result};

/// Runs `plan`: stage, check the rejects against the limit, hand the staged folder to `load` (a
/// warehouse load), publish. Nothing is published when any step fails.
pub fn execute_transform(
    plan: &TransformPlan,
    progress: &Progress,
    load: impl FnOnce(&Path, &mut RunSummary) -> Result<()>,
) -> Result<RunSummary> {
    let source = open_source(plan)?;
    let staging_for = match &plan.output {
        Location::Local(dir) => dir.clone(),
        Location::S3(_) => std::env::temp_dir().join("sparkify-output"),
    };
    let staging = Staging::new(&staging_for)?;
    let options = TransformOptions {
        writer: plan.writer,
    };
    let (mut summary, rejects) = transform(source.as_ref(), staging.path(), &options, progress)?;
    let rejects_file = write_rejects(staging.path(), &rejects)?;
    if summary.rejected > plan.max_bad_records {
        let failed = failed_dir(&plan.output);
        for table in crate::schema::TABLES {
            let _ = std::fs::remove_dir_all(staging.path().join(table.name));
        }
        let kept = staging.keep_as(&failed)?;
        return Err(Error::TooManyRejects {
            count: summary.rejected,
            max: plan.max_bad_records,
            first: rejects.first().map(|r| r.to_string()).unwrap_or_default(),
            kept: kept.join(REJECTS_DIR).display().to_string(),
        });
    }
    let started = std::time::Instant::now();
    load(staging.path(), &mut summary)?;
    if summary.load.is_some() {
        summary
            .stages
            .push(("load".into(), started.elapsed().as_secs_f64()));
    }
    match &plan.output {
        Location::Local(_) => {
            let published = staging.publish()?;
            summary.output = published.display().to_string();
            summary.rejects_file = rejects_file
                .and_then(|f| f.file_name().map(|n| published.join(REJECTS_DIR).join(n)))
                .map(|p| p.display().to_string());
        }
        Location::S3(url) => {
            let dest = parse_s3(url)?;
            let run = publish_s3(plan, staging.path(), &dest, &summary)?;
            summary.output = dest.url_of(&dest.key(&format!("runs/{run}")));
            summary.rejects_file = rejects_file.map(|_| {
                dest.url_of(&dest.key(&format!("runs/{run}/{REJECTS_DIR}/part-00000.ndjson")))
            });
        }
    }
    Ok(summary)
}

/// Where a failed run's rejects are kept: `<output>.failed` beside a local output; for an S3 output
/// a local folder in the working directory.
fn failed_dir(output: &Location) -> PathBuf {
    match output {
        Location::Local(dir) => dir.with_file_name(format!(
            "{}.failed",
            dir.file_name()
                .map_or_else(|| "output".into(), |n| n.to_string_lossy())
        )),
        Location::S3(_) => PathBuf::from("sparkify.failed"),
    }
}

fn parse_s3(url: &str) -> Result<S3Location> {
    S3Location::parse(url).map_err(|e| Error::Usage(e.to_string()))
}

fn s3_settings(plan: &TransformPlan) -> S3Settings {
    S3Settings {
        region: plan.s3.region.clone(),
        ..S3Settings::default()
    }
}

fn open_source(plan: &TransformPlan) -> Result<Box<dyn Source>> {
    Ok(match &plan.input {
        Location::Local(dir) => Box::new(LocalSource::open(dir)?),
        Location::S3(url) => Box::new(
            S3Source::connect(&s3_settings(plan), parse_s3(url)?)?
                .with_concurrency(plan.s3.concurrency),
        ),
    })
}

/// Uploads the staged run and publishes it; returns the run id.
fn publish_s3(
    plan: &TransformPlan,
    staged: &Path,
    dest: &S3Location,
    summary: &RunSummary,
) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| crate::sink::Error::Io {
            path: staged.to_path_buf(),
            source,
        })?;
    let run = run_id();
    let options = PublishOptions {
        concurrency: plan.s3.concurrency.clamp(1, 32),
        rows: summary
            .tables
            .iter()
            .map(|t| (t.name.clone(), t.rows))
            .collect(),
        ..PublishOptions::default()
    };
    runtime.block_on(async {
        let client = s3_client(&s3_settings(plan)).await;
        publish_to_s3_with(&client, staged, dest, &run, &options).await
    })?;
    Ok(run)
}
