//! `check`: the data-quality checks on the loaded tables (a warehouse or the local Parquet).

use std::collections::BTreeMap;

use super::{local_input, on_warehouse, print_plan};
use crate::cli::CheckArgs;
use crate::config::Config;
use crate::warehouse::check;
use crate::warehouse::local::LocalWarehouse;
use crate::Result;

/// `check`: exit 0 when every check passes, 1 when one fails.
pub(super) fn check(args: &CheckArgs, config: &Config, quiet: bool) -> Result<i32> {
    let local = local_input(&args.tables)?;
    let expected = match &args.expect_summary {
        Some(path) => check::summary_rows(path)?,
        None => BTreeMap::new(),
    };
    let checks = check::checks(&expected);
    if args.dry_run {
        let statements: Vec<String> = checks.iter().map(|c| c.sql.clone()).collect();
        return print_plan(&args.tables, config, local.as_deref(), &statements);
    }
    let report = if let Some(dir) = local {
        LocalWarehouse::open(&dir)?.check(checks)?
    } else {
        on_warehouse(&args.tables, config, async |client, dialect| {
            check::execute(client, dialect, checks).await
        })?
    };
    // A failed check is shown even with --quiet.
    super::print_result(
        &report,
        || report.render(),
        args.json,
        quiet && report.passed,
    )?;
    for o in report.failures() {
        eprintln!(
            "check failed: {} {}{}: found {}, expected {}",
            o.check.check,
            o.check.table,
            o.check
                .column
                .as_deref()
                .map(|c| format!(".{c}"))
                .unwrap_or_default(),
            o.found.map_or_else(|| "-".into(), |n| n.to_string()),
            o.check.expected
        );
    }
    Ok(if report.passed { 0 } else { 1 })
}
