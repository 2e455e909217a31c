//! The warehouse-side commands: `etl --mode elt`, `check` and `query` (flags and dispatch; the
//! work is in [`crate::warehouse`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::config::Config;
use crate::plan::TransformPlan;
use crate::target::Target;
use crate::warehouse::adhoc::{self, AdHoc, AdHocResult};
use crate::warehouse::check;
use crate::warehouse::elt::{self, sql::EltSql};
use crate::warehouse::local::LocalWarehouse;
use crate::warehouse::postgres::PgTarget;
use crate::warehouse::query;
use crate::warehouse::render;
use crate::warehouse::sql::{Dialect, WriteMode};
use crate::{Error, Result};

/// Where `etl` builds the star schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// sparkify builds it (JSON → Parquet) and the target loads the Parquet.
    #[default]
    Transform,
    /// The warehouse builds it: the raw JSON is staged there and transformed with SQL.
    Elt,
}

/// Flags of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
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
    /// Also require each table's row count to equal this run summary's (`etl --json` output).
    #[arg(long, value_name = "FILE")]
    pub expect_summary: Option<PathBuf>,
    /// Print the outcome as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print the statements the checks run, and run nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Flags of `query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The query to run (see --list).
    #[arg(required_unless_present_any = ["list", "sql", "sql_file"], conflicts_with_all = ["sql", "sql_file"])]
    pub name: Option<String>,
    /// List the queries and what they answer.
    #[arg(long)]
    pub list: bool,
    /// Run this read-only query instead (one SELECT/WITH/VALUES/SHOW/EXPLAIN statement).
    #[arg(long, value_name = "SQL", conflicts_with = "sql_file")]
    pub sql: Option<String>,
    /// Run the read-only query in this file.
    #[arg(long, value_name = "FILE")]
    pub sql_file: Option<PathBuf>,
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
    /// Print the result as one JSON object on stdout.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print the result as CSV (a header line, then one line per row).
    #[arg(long)]
    pub csv: bool,
    /// Print the statements the query runs, and run nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// What `--dry-run` prints for `check` and `query`: where, the session's statements, then
/// `statements`.
fn print_plan(
    target: &str,
    allow_insecure: bool,
    config: &Config,
    local: Option<&Path>,
    statements: &[String],
) -> Result<i32> {
    let mut script = Vec::new();
    match local {
        Some(dir) => println!("-- on the local Parquet in {}", dir.display()),
        None => {
            let (target, dialect) = warehouse(target, allow_insecure, config)?;
            println!("-- on {target}");
            script = crate::warehouse::exec::session_statements(&target.sql(dialect));
        }
    }
    script.extend(statements.iter().cloned());
    for statement in script {
        println!("{};", statement.trim_end().trim_end_matches(';'));
    }
    Ok(0)
}

/// The Parquet folder of `--target local`: `--input`, else `./warehouse`. `--input` with a server
/// target is refused rather than ignored.
pub fn local_input(target: &str, input: Option<&Path>) -> Result<Option<PathBuf>> {
    match (target, input) {
        ("local", input) => Ok(Some(input.unwrap_or(Path::new("warehouse")).to_path_buf())),
        (_, None) => Ok(None),
        (_, Some(_)) => Err(Error::Usage(
            "--input names the Parquet folder of --target local; a warehouse target reads its own tables".into(),
        )),
    }
}

/// The connection for a warehouse command, and its dialect.
pub(crate) fn warehouse(
    target: &str,
    allow_insecure: bool,
    config: &Config,
) -> Result<(PgTarget, Dialect)> {
    match Target::parse(target, allow_insecure, config)? {
        Target::Postgres(pg) => Ok((*pg, Dialect::Postgres)),
        Target::Redshift(rs) => Ok((rs.connection, Dialect::Redshift)),
        Target::Local => Err(Error::Usage(
            "this command needs a warehouse: --target postgres://… or redshift".into(),
        )),
    }
}

/// `etl --mode elt`: stage the raw JSON in the warehouse and build the star schema there.
/// Redshift stages from S3 with COPY; PostgreSQL is staged by sparkify (for tests and small runs).
pub fn etl_elt(
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
        Target::Postgres(pg) => elt::elt_postgres(pg, plan, mode, &crate::Progress::new(quiet))?,
        Target::Redshift(rs) => elt::elt_redshift(rs, config, plan, mode)?,
    };
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else if !quiet {
        print!("{}", elt::render(&summary));
    }
    Ok(0)
}

/// `check`: exit 0 when every check passes, 1 when one fails.
pub fn check_command(args: &CheckArgs, config: &Config, quiet: bool) -> Result<i32> {
    let local = local_input(&args.target, args.input.as_deref())?;
    let expected = match &args.expect_summary {
        Some(path) => check::summary_rows(path)?,
        None => BTreeMap::new(),
    };
    let checks = check::checks(&expected);
    if args.dry_run {
        let statements: Vec<String> = checks.iter().map(|c| c.sql.clone()).collect();
        return print_plan(
            &args.target,
            args.allow_insecure,
            config,
            local.as_deref(),
            &statements,
        );
    }
    let report = if let Some(dir) = local {
        LocalWarehouse::open(&dir)?.check(checks)?
    } else {
        let (target, dialect) = warehouse(&args.target, args.allow_insecure, config)?;
        crate::warehouse::runtime()?.block_on(async {
            let client = crate::warehouse::exec::connect(&target, dialect).await?;
            Ok::<_, Error>(check::run(&client, dialect, checks).await?)
        })?
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if !quiet || !report.passed {
        print!("{}", report.render());
    }
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

/// `query NAME` / `query --list` / `query --sql …`.
pub fn query_command(args: &QueryArgs, config: &Config) -> Result<i32> {
    if args.list {
        print!("{}", query::list());
        return Ok(0);
    }
    let local = local_input(&args.target, args.input.as_deref())?;
    let adhoc = match (&args.sql, &args.sql_file) {
        (Some(sql), _) => Some(AdHoc::new(sql)?),
        (None, Some(file)) => Some(AdHoc::from_file(file)?),
        (None, None) => None,
    };
    if let Some(query) = adhoc {
        if args.dry_run {
            let statements = match local {
                Some(_) => vec![query.sql().to_owned()],
                None => ["BEGIN READ ONLY", query.sql(), "ROLLBACK"]
                    .map(str::to_owned)
                    .to_vec(),
            };
            return print_plan(
                &args.target,
                args.allow_insecure,
                config,
                local.as_deref(),
                &statements,
            );
        }
        return adhoc_command(args, config, local, &query);
    }
    let name = args.name.as_deref().unwrap_or_default();
    let analytic = query::find(name).ok_or_else(|| {
        Error::Usage(format!(
            "no query named {name:?}; `sparkify query --list` shows them"
        ))
    })?;
    if args.dry_run {
        return print_plan(
            &args.target,
            args.allow_insecure,
            config,
            local.as_deref(),
            &[analytic.sql.to_owned()],
        );
    }
    let result = if let Some(dir) = local {
        query::QueryResult {
            query: analytic.name,
            title: analytic.title(),
            rows: LocalWarehouse::open(&dir)?.query(analytic.sql)?,
        }
    } else {
        let (target, dialect) = warehouse(&args.target, args.allow_insecure, config)?;
        crate::warehouse::runtime()?.block_on(async {
            let client = crate::warehouse::exec::connect(&target, dialect).await?;
            Ok::<_, Error>(query::run(&client, dialect, analytic).await?)
        })?
    };
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else if args.csv {
        print!("{}", render::csv(&result.rows.columns, &result.rows.rows));
    } else {
        print!("{}", result.render());
    }
    Ok(0)
}

/// `query --sql …` / `--sql-file F`: one read-only query (see [`adhoc`]).
fn adhoc_command(
    args: &QueryArgs,
    config: &Config,
    local: Option<PathBuf>,
    query: &AdHoc,
) -> Result<i32> {
    let rows = if let Some(dir) = local {
        LocalWarehouse::open(&dir)?.query(query.sql())?
    } else {
        let (target, dialect) = warehouse(&args.target, args.allow_insecure, config)?;
        crate::warehouse::runtime()?.block_on(async {
            let client = crate::warehouse::exec::connect(&target, dialect).await?;
            Ok::<_, Error>(adhoc::run_read_only(&client, dialect, query).await?)
        })?
    };
    if args.json {
        let result = AdHocResult {
            sql: query.sql().to_owned(),
            rows,
        };
        println!("{}", serde_json::to_string(&result)?);
    } else if args.csv {
        print!("{}", render::csv(&rows.columns, &rows.rows));
    } else {
        print!("{}", render::table(&rows.columns, &rows.rows));
    }
    Ok(0)
}

/// Flags of `prune-runs`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// The prefix the runs were published under: [S3] STAGING by default, or the S3 --output of
    /// `etl`/`transform`.
    #[arg(long, value_name = "s3://bucket/prefix")]
    pub staging: Option<String>,
    /// Print what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the outcome as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `prune-runs`: deletes the runs under a staging prefix that `--keep-runs` does not keep (see
/// [`crate::sink::s3::prune_runs`]).
pub fn prune_command(args: &PruneArgs, config: &Config) -> Result<i32> {
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
