//! `sparkify report`: flags and dispatch.

use std::path::PathBuf;

use clap::Args;

use super::{gather, write, ReportSource, ServerSource};
use crate::commands::{local_input, warehouse};
use crate::config::Config;
use crate::warehouse::local::LocalWarehouse;
use crate::Result;

/// Flags of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The warehouse: local (the Parquet in --input), postgres://user[:pass]@host[:port]/db[?sslmode=…]
    /// or redshift.
    #[arg(long, default_value = "local")]
    pub target: String,
    /// --target local: the folder `etl` wrote [default: warehouse]
    #[arg(long, value_name = "DIR")]
    pub input: Option<PathBuf>,
    /// Allow a connection without TLS to a host that is not this machine.
    #[arg(long)]
    pub allow_insecure: bool,
    /// The HTML file to write (replaced whole; its folder must exist).
    #[arg(long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
}

/// `report`: writes the page; exit 0 when every check passed, 1 when one failed (the page is
/// written either way and shows which).
pub fn report_command(args: &ReportArgs, config: &Config, quiet: bool) -> Result<i32> {
    let mut source: Box<dyn ReportSource> = match local_input(&args.target, args.input.as_deref())?
    {
        Some(dir) => Box::new(LocalWarehouse::open(&dir)?),
        None => {
            let (target, dialect) = warehouse(&args.target, args.allow_insecure, config)?;
            Box::new(ServerSource::connect(&target, dialect)?)
        }
    };
    let data = gather(source.as_mut())?;
    write(&data, &args.output)?;
    let checks = &data.checks;
    if !quiet {
        println!(
            "wrote {}: {} charts; {} of {} checks passed",
            args.output.display(),
            data.analytics.len(),
            checks.checks.len() - checks.failed,
            checks.checks.len()
        );
    }
    if !checks.passed {
        eprintln!(
            "check failed: {} of {} checks (the report lists them)",
            checks.failed,
            checks.checks.len()
        );
    }
    Ok(if checks.passed { 0 } else { 1 })
}
