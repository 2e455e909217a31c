//! `load`: the Parquet star schema of a folder (or, on Redshift, the S3 run `_latest` names) into
//! a warehouse; and what a load will do, for `--dry-run` of `load` and `etl`.

use crate::cli::{LoadArgs, WriteArg};
use crate::config::Config;
use crate::summary::LoadSummary;
use crate::target::Target;
use crate::warehouse::redshift::{self, LoadedRun, RedshiftTarget};
use crate::warehouse::replace_window::{self, LoadScope};
use crate::warehouse::{load_postgres, load_redshift, load_summary, RedshiftInput, WriteMode};
use crate::{Error, Result};

/// `load`: one transaction per target; `--from-latest` loads the published S3 run.
pub(super) fn load(args: &LoadArgs, config: &Config, quiet: bool) -> Result<i32> {
    let target = Target::parse(&args.target.target, args.target.allow_insecure, config)?;
    let range = crate::window::TimeRange {
        since: args.since,
        until: args.until,
    };
    if args.write == WriteArg::ReplaceWindow && matches!(target, Target::Local) {
        return Err(replace_window::local_refused());
    }
    if args.write != WriteArg::ReplaceWindow && !range.is_all() {
        return Err(Error::Usage(
            "--since and --until on load name the range --write replace-window replaces".into(),
        ));
    }
    let mode = args.write.mode(&LoadScope {
        starts: true,
        range,
    })?;
    if args.from_latest && !matches!(target, Target::Redshift(_)) {
        return Err(Error::Usage(
            "--from-latest needs --target redshift (it loads the run [S3] STAGING/_latest names)"
                .into(),
        ));
    }
    if args.target.dry_run {
        if !args.from_latest {
            println!(
                "read:      {}/{{songplays,users,songs,artists,time}}/*.parquet",
                args.input.display()
            );
        }
        print!("{}", describe(&target, mode, args.from_latest)?);
        return Ok(0);
    }
    let load = match &target {
        Target::Local => {
            return Err(Error::Usage(
                "load needs --target postgres://… or redshift".into(),
            ))
        }
        Target::Postgres(pg) => load_summary(pg, &load_postgres(pg, &args.input, mode)?),
        Target::Redshift(rs) => {
            let input = if args.from_latest {
                RedshiftInput::Latest
            } else {
                RedshiftInput::Folder {
                    dir: &args.input,
                    rows: redshift::parquet_rows(&args.input)?,
                }
            };
            redshift_summary(rs, &load_redshift(rs, input, mode)?)
        }
    };
    super::print_result(&load, || load.render(), args.json, quiet)?;
    Ok(0)
}

/// What a load will do, for `--dry-run`: lines starting `load:`, and for Redshift every statement.
/// `from_latest`: the run `_latest` names is loaded, rather than a new one published.
pub(super) fn describe(target: &Target, mode: WriteMode, from_latest: bool) -> Result<String> {
    Ok(match target {
        Target::Local => "load:      none (--target local)\n".into(),
        Target::Postgres(pg) => {
            let mut out = format!(
                "load:      {pg} ({mode}): COPY … FROM STDIN (FORMAT binary) into temp tables, then {} in one transaction\nstatements:\n",
                match mode {
                    WriteMode::Merge => "DELETE matching keys + INSERT".to_owned(),
                    WriteMode::Replace => "DELETE all + INSERT".to_owned(),
                    WriteMode::ReplaceWindow(range) => format!(
                        "DELETE songplays and time in {range} + INSERT, merge the others"
                    ),
                }
            );
            out.push_str(&crate::warehouse::postgres::load_script(
                &pg.sql(crate::warehouse::sql::Dialect::Postgres),
                mode,
            ));
            out
        }
        Target::Redshift(rs) => describe_redshift_load(rs, mode, from_latest)?,
    })
}

/// The Redshift part of `--dry-run`: where the Parquet is staged and every statement of the load.
fn describe_redshift_load(
    rs: &RedshiftTarget,
    mode: WriteMode,
    from_latest: bool,
) -> Result<String> {
    const RUN_ID: &str = "RUN_ID";
    let staging = &rs.staging;
    let run = staging.url_of(&staging.key(&format!("runs/{RUN_ID}/")));
    let mut out = format!(
        "load:      {rs} ({mode}), COPY reads S3 as {}\n",
        rs.iam_role
    );
    if from_latest {
        out.push_str(&format!(
            "copy:      the run {staging}/_latest names ({RUN_ID} below): {run}<table>.manifest\n"
        ));
    } else {
        out.push_str(&format!(
            "stage:     upload {run}<table>/part-NNNNN.parquet with a COPY manifest per table, then point {staging}/_latest at it ({RUN_ID}: the new run's id)\n"
        ));
    }
    out.push_str("statements:\n");
    out.push_str(&redshift::plan_for_dry_run(rs, RUN_ID, mode)?.script());
    out.push_str(
        "-- after a failed COPY (and ROLLBACK), its load errors are read from \
         sys_load_error_detail, else stl_load_errors, else svl_s3log, else \
         sys_external_query_error\n",
    );
    Ok(out)
}

/// The load summary of a published S3 run loaded into Redshift.
pub(super) fn redshift_summary(rs: &RedshiftTarget, run: &LoadedRun) -> LoadSummary {
    load_summary(&format!("{rs} from {}", run.run_url), &run.report)
}
