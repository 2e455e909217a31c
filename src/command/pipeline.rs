//! The transform pipeline of `etl` and `transform`: lock the output and clean up after killed
//! executions, stage, transform (rejects streamed beside the tables, stopping as soon as they are
//! too many), load, publish (a local folder switch, or an S3 run published behind its `_latest`
//! pointer).

use std::path::{Path, PathBuf};

use crate::plan::{parse_s3, resolve_path, Location, TransformPlan};
use crate::s3::{s3_client, S3Location};
use crate::sink::lock::OutputLock;
use crate::sink::marker::{inspect, MARKER};
use crate::sink::publish::{clean_leftovers, run_id, Staging};
use crate::sink::rejects::{RejectSink, REJECTS_DIR};
use crate::sink::s3::{prune_after_publish, publish_to_s3_with, PublishOptions};
use crate::summary::EtlSummary;
use crate::transform::{transform, TransformOptions};
use crate::warehouse::replace_window::LoadScope;
use crate::{Error, Progress, Result};

/// Executes `plan`: lock a local output (failing at once, or waiting, when another sparkify process holds it),
/// stage, transform, hand the staged folder to `load` (a warehouse load), publish. Nothing is
/// published when any step fails; an execution stopped by too many rejects keeps them beside the output.
///
/// A windowed plan (`--window`) is executed window by window instead (see [`super::backfill`]), calling
/// `load` once per window; its last argument says whether the load starts the warehouse's data
/// (the only window a replacing load may clear the tables for) and which events it holds.
pub fn execute(
    plan: &TransformPlan,
    progress: &Progress,
    mut load: impl FnMut(&Path, &mut EtlSummary, LoadScope) -> Result<()>,
) -> Result<EtlSummary> {
    if let Some(size) = plan.window {
        return super::backfill::execute_windows(plan, size, progress, load);
    }
    let (staging_for, _lock) = prepare_output(plan)?;
    let source = plan.open_source()?;
    let staging = Staging::new(&staging_for)?;
    let rejects = RejectSink::create(staging.path(), plan.max_bad_records)?;
    let options = TransformOptions {
        writer: plan.writer,
        range: plan.range,
    };
    let outcome = transform(
        source.as_ref(),
        staging.path(),
        &options,
        &rejects,
        progress,
    );
    let written = rejects.finish()?;
    let mut summary = match outcome {
        Ok(summary) => summary,
        Err(Error::TooManyRejects {
            count, max, first, ..
        }) => {
            let kept = keep_rejects(staging, &failed_dir(&plan.output, &staging_for))?;
            return Err(Error::TooManyRejects {
                count,
                max,
                first,
                kept: kept.join(REJECTS_DIR).display().to_string(),
            });
        }
        Err(e) => return Err(e),
    };
    crate::sink::switch::test_point("staged");
    let started = std::time::Instant::now();
    let scope = LoadScope {
        starts: true,
        range: plan.range,
    };
    load(staging.path(), &mut summary, scope)?;
    if summary.load.is_some() {
        summary
            .stages
            .push(("load".into(), started.elapsed().as_secs_f64()));
    }
    let rejects_name = written
        .file
        .as_ref()
        .and_then(|f| f.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    match &plan.output {
        Location::Local(dir) => {
            staging.publish()?;
            summary.output = dir.display().to_string();
            summary.rejects_file =
                rejects_name.map(|n| dir.join(REJECTS_DIR).join(n).display().to_string());
        }
        Location::S3(url) => {
            let dest = parse_s3(url)?;
            let run = publish_s3(plan, staging.path(), &dest, &summary)?;
            summary.output = dest.url_of(&dest.key(&format!("runs/{run}")));
            summary.rejects_file = rejects_name
                .map(|n| dest.url_of(&dest.key(&format!("runs/{run}/{REJECTS_DIR}/{n}"))));
        }
    }
    Ok(summary)
}

/// Where the plan is staged (beside a local output; for an S3 output, in the temporary folder) and,
/// for a local output, its lock. Under the lock, what killed executions left is cleaned up and the
/// output is checked once more (the plan checked it before the lock was taken).
pub(crate) fn prepare_output(plan: &TransformPlan) -> Result<(PathBuf, Option<OutputLock>)> {
    let Location::Local(dir) = &plan.output else {
        let staging_for = std::env::temp_dir().join("sparkify-s3");
        clean_leftovers(&staging_for)?;
        return Ok((staging_for, None));
    };
    let output = resolve_path(dir).map_err(crate::sink::io_error(dir))?;
    if let Some(parent) = output.parent() {
        std::fs::create_dir_all(parent).map_err(crate::sink::io_error(parent))?;
    }
    let lock = OutputLock::acquire(&output, plan.wait_for_lock)?;
    crate::sink::switch::test_point("locked");
    clean_leftovers(&output)?;
    clean_leftovers(&failed_dir(&plan.output, &output))?;
    crate::sink::switch::test_point("cleaned");
    inspect(&output)?;
    Ok((output, Some(lock)))
}

/// Keeps the rejects of a failed execution (the staged folder without its tables) as `failed`.
pub(crate) fn keep_rejects(staging: Staging, failed: &Path) -> Result<PathBuf> {
    let dir = staging.path();
    for entry in std::fs::read_dir(dir).map_err(crate::sink::io_error(dir))? {
        let entry = entry.map_err(crate::sink::io_error(dir))?;
        let name = entry.file_name();
        if name != REJECTS_DIR && name != MARKER {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(crate::sink::io_error(&path))?;
        }
    }
    Ok(staging.keep_as(failed)?)
}

/// Where a failed execution's rejects are kept: `<output>.failed` beside a local output (`output` is
/// its resolved path); for an S3 output a local folder in the working directory.
pub(crate) fn failed_dir(plan_output: &Location, output: &Path) -> PathBuf {
    match plan_output {
        Location::Local(_) => output.with_file_name(format!(
            "{}.failed",
            output
                .file_name()
                .map_or_else(|| "output".into(), |n| n.to_string_lossy())
        )),
        Location::S3(_) => PathBuf::from("sparkify.failed"),
    }
}

/// Uploads the staged folder as a new S3 run and publishes it; returns the run id.
fn publish_s3(
    plan: &TransformPlan,
    staged: &Path,
    dest: &S3Location,
    summary: &EtlSummary,
) -> Result<String> {
    let runtime = crate::runtime()?;
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
        let client = s3_client(&plan.s3_settings()).await;
        publish_to_s3_with(&client, staged, dest, &run, &options).await?;
        prune_after_publish(&client, dest, plan.s3.keep_runs).await;
        Ok::<_, Error>(())
    })?;
    Ok(run)
}
