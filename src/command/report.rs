//! `report`: an HTML page of headline figures, the checks' verdict and a chart per analytics
//! query (see [`crate::report`]).

use super::{local_input, warehouse};
use crate::cli::ReportArgs;
use crate::config::Config;
use crate::report::{gather, write, ReportSource, ServerSource};
use crate::warehouse::local::LocalWarehouse;
use crate::Result;

/// `report`: writes the page; exit 0 when every check passed, 1 when one failed (the page is
/// written either way and shows which).
pub(super) fn report(args: &ReportArgs, config: &Config, quiet: bool) -> Result<i32> {
    let mut source: Box<dyn ReportSource> = match local_input(&args.tables)? {
        Some(dir) => Box::new(LocalWarehouse::open(&dir)?),
        None => {
            let (target, dialect) = warehouse(&args.tables, config)?;
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
