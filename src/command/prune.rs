//! `prune-runs`: deletes old runs under an S3 prefix on demand (a publish also prunes after it
//! commits; see [`crate::sink::s3::prune_runs`]).

use crate::cli::PruneArgs;
use crate::config::Config;
use crate::{Error, Result};

/// `prune-runs`: deletes the runs under a staging prefix that `--keep-runs` does not keep (see
/// [`crate::sink::s3::prune_runs`]).
pub(super) fn prune(args: &PruneArgs, config: &Config) -> Result<i32> {
    use crate::sink::s3::{prune_runs, KeepRuns};
    let url = match &args.staging {
        Some(url) => url.clone(),
        None => config.require("S3", "STAGING")?,
    };
    let dest = crate::plan::parse_s3(&url)?;
    if dest.prefix.is_empty() {
        return Err(Error::Usage(format!(
            "{url}: name the prefix the runs are under (s3://bucket/prefix), not a whole bucket"
        )));
    }
    let keep = KeepRuns::from_config(config)?;
    let settings = crate::s3::S3Settings {
        region: config.staging_region(),
        ..crate::s3::S3Settings::default()
    };
    let report = crate::runtime()?.block_on(async {
        let client = crate::s3::s3_client(&settings).await;
        prune_runs(&client, &dest, keep, args.dry_run, 8).await
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(0);
    }
    let runs = dest.url_of(&dest.key("runs/"));
    if report.kept.is_empty() {
        println!("nothing is published under {url}: nothing to prune");
        return Ok(0);
    }
    if keep == KeepRuns::All {
        println!("keeping all runs under {runs} (--keep-runs all): nothing to prune");
        return Ok(0);
    }
    println!("kept     {}", report.kept.join(", "));
    if !report.spared.is_empty() {
        println!(
            "spared   {} (not published, but as new as the run pointer: perhaps a publish in progress)",
            report.spared.join(", ")
        );
    }
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    if report.deleted.is_empty() {
        println!("{verb} nothing: only the runs kept are under {runs}");
    } else {
        println!(
            "{verb} {} run(s), {} object(s): {}",
            report.deleted.len(),
            report.objects,
            report.deleted.join(", ")
        );
    }
    Ok(0)
}
