//! `etl` and `transform`: flags → plan → the transform [`pipeline`](super::pipeline) (or ELT in
//! the warehouse), then the summary.

use std::path::Path;

use crate::cli::{EtlArgs, Mode, TransformArgs, WriteArg};
use crate::config::Config;
use crate::plan::TransformPlan;
use crate::summary::EtlSummary;
use crate::target::Target;
use crate::warehouse::elt::{self, sql::EltSql};
use crate::warehouse::redshift;
use crate::warehouse::replace_window::{self, LoadScope};
use crate::warehouse::{load_postgres, load_redshift, load_summary, RedshiftInput, WriteMode};
use crate::{Error, Progress, Result};

/// `etl`: transform and load (`--mode transform`), or have the warehouse do both (`--mode elt`).
pub(super) fn etl(
    args: &EtlArgs,
    config: &Config,
    progress: &Progress,
    quiet: bool,
) -> Result<i32> {
    let target = Target::parse(&args.target, args.allow_insecure, config)?;
    let plan = args.transform.plan(config)?;
    let t = &args.transform;
    let elt = args.mode == Mode::Elt;
    if args.write == WriteArg::ReplaceWindow {
        replace_window::check_etl(&plan, matches!(target, Target::Local), elt)?;
    }
    let first = LoadScope {
        starts: true,
        range: plan.range,
    };
    if elt {
        let mode = args.write.mode(&first)?;
        if !plan.range.is_all() || plan.window.is_some() {
            return Err(Error::Usage(
                "--since, --until and --window select events sparkify reads; \
                 --mode elt has the warehouse read them (use --mode transform)"
                    .into(),
            ));
        }
        return etl_elt(&target, &plan, mode, config, t.dry_run, t.json, quiet);
    }
    if t.dry_run {
        println!("{plan}");
        let describe = |mode| super::load::describe(&target, mode, false);
        match args.write {
            WriteArg::ReplaceWindow => {
                print!("{}", replace_window::describe_loads(&plan, describe)?)
            }
            write => print!("{}", describe(write.mode(&first)?)?),
        }
        return Ok(0);
    }
    let write = args.write;
    let summary = super::pipeline::execute(&plan, progress, |staged, summary, scope| {
        load_into(&target, staged, summary, write.mode(&scope)?)
    })?;
    print_summary(&summary, t.json, quiet)?;
    Ok(0)
}

/// `transform`: JSON → Parquet, published; no load.
pub(super) fn transform(
    args: &TransformArgs,
    config: &Config,
    progress: &Progress,
    quiet: bool,
) -> Result<i32> {
    let plan = args.plan(config)?;
    if args.dry_run {
        println!("{plan}");
        return Ok(0);
    }
    let summary = super::pipeline::execute(&plan, progress, |_, _, _| Ok(()))?;
    print_summary(&summary, args.json, quiet)?;
    Ok(0)
}

fn print_summary(summary: &EtlSummary, json: bool, quiet: bool) -> Result<()> {
    super::print_result(summary, || summary.render(), json, quiet)
}

/// Loads the staged folder `staged` into `target` with `mode`, recording the load in `summary`.
fn load_into(
    target: &Target,
    staged: &Path,
    summary: &mut EtlSummary,
    mode: WriteMode,
) -> Result<()> {
    match target {
        Target::Local => Ok(()),
        Target::Postgres(pg) => {
            let report = load_postgres(pg, staged, mode)?;
            summary.load = Some(load_summary(pg, &report));
            Ok(())
        }
        Target::Redshift(rs) => {
            // A window's folder: its rows are counted from its files.
            let rows = if summary.tables.is_empty() {
                redshift::parquet_rows(staged)?
            } else {
                summary
                    .tables
                    .iter()
                    .map(|t| (t.name.clone(), t.rows))
                    .collect()
            };
            let input = RedshiftInput::Folder { dir: staged, rows };
            let loaded = load_redshift(rs, input, mode)?;
            summary.load = Some(super::load::redshift_summary(rs, &loaded));
            Ok(())
        }
    }
}

/// `etl --mode elt`: stage the raw JSON in the warehouse and build the star schema there.
/// Redshift stages from S3 with COPY; PostgreSQL is staged by sparkify (for tests and small inputs).
fn etl_elt(
    target: &Target,
    plan: &TransformPlan,
    mode: WriteMode,
    config: &Config,
    dry_run: bool,
    json: bool,
    quiet: bool,
) -> Result<i32> {
    let summary = match target {
        Target::Local => {
            return Err(Error::Usage(
                "--mode elt builds the star schema in a warehouse: use --target redshift or \
                 postgres://…"
                    .into(),
            ))
        }
        Target::Postgres(pg) if dry_run => {
            println!("mode:      elt on {pg} ({mode})");
            println!("read:      {}/{{song_data,log_data}}/**.json[.gz], parsed by sparkify and streamed into the staging tables", plan.input);
            println!(
                "execute:\n{}",
                EltSql::postgres(mode, pg.session()).script()
            );
            return Ok(0);
        }
        Target::Redshift(rs) if dry_run => {
            let sql = EltSql::redshift(mode, &rs.session(), elt::redshift_input(config, plan)?);
            println!("mode:      elt on Redshift ({mode}); COPY reads the JSON from S3");
            println!("execute:\n{}", sql.script());
            return Ok(0);
        }
        Target::Postgres(pg) => elt::elt_postgres(pg, plan, mode, &Progress::new(quiet))?,
        Target::Redshift(rs) => elt::elt_redshift(rs, config, plan, mode)?,
    };
    super::print_result(&summary, || elt::render(&summary), json, quiet)?;
    Ok(0)
}
