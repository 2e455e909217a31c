//! The command line: clap definitions and the dispatch from a command to the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::etl::execute_transform;
use crate::plan::{default_input, Location, S3Options, TransformPlan};
use crate::sink::parquet::{Codec, WriterOptions};
use crate::target::Target;
use crate::warehouse::redshift::{self, RedshiftTarget, RunLoad};
use crate::warehouse::replace_window::{self, LoadScope};
use crate::warehouse::{
    ddl_redshift, load_postgres, load_redshift, load_summary, RedshiftInput, WriteMode,
};
use crate::{Error, Progress, Result};

/// sparkify: Sparkify JSON logs and songs → star-schema Parquet → warehouse.
#[derive(Debug, Parser)]
#[command(name = "sparkify", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Config file (INI); default `dwh.cfg` when present.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bars, no summary table; errors only.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Warehouse schema of the star-schema tables, for every warehouse command and target
    /// (overrides [CLUSTER] SCHEMA; default: the user's search path).
    #[arg(long, global = true, value_name = "NAME")]
    pub schema: Option<String>,
    /// Longest a warehouse statement may run: 300, 300s, 5m, 2h; 0 = no limit (overrides
    /// [CLUSTER] STATEMENT_TIMEOUT) [default: 2h].
    #[arg(long, global = true, value_name = "DURATION")]
    pub statement_timeout: Option<String>,
    /// Longest a PostgreSQL statement may wait for a lock (overrides [CLUSTER] LOCK_TIMEOUT; on
    /// Redshift the statement timeout bounds lock waits) [default: 5m].
    #[arg(long, global = true, value_name = "DURATION")]
    pub lock_timeout: Option<String>,
    /// Runs kept under an S3 staging prefix or --output after each publish: 1 to 32, or all
    /// (overrides [S3] KEEP_RUNS) [default: 2, the published run and the one before it].
    #[arg(long, global = true, value_name = "N|all")]
    pub keep_runs: Option<String>,
}

/// Applies `--schema`, `--statement-timeout` and `--lock-timeout` over the config, after checking
/// them (a bad value is refused naming the flag).
fn apply_session_flags(cli: &Cli, config: &mut Config) -> Result<()> {
    use crate::warehouse::session::parse_duration;
    if let Some(schema) = &cli.schema {
        crate::warehouse::literal::Ident::new(schema)
            .map_err(|e| Error::Usage(format!("--schema: {e}")))?;
        config.set_override("CLUSTER", "SCHEMA", schema);
    }
    for (flag, key, value) in [
        (
            "--statement-timeout",
            "STATEMENT_TIMEOUT",
            &cli.statement_timeout,
        ),
        ("--lock-timeout", "LOCK_TIMEOUT", &cli.lock_timeout),
    ] {
        if let Some(v) = value {
            parse_duration(v).map_err(|e| Error::Usage(format!("{flag}: {e}")))?;
            config.set_override("CLUSTER", key, v);
        }
    }
    if let Some(keep) = &cli.keep_runs {
        crate::sink::s3::KeepRuns::parse(keep)
            .map_err(|e| Error::Usage(format!("--keep-runs: {e}")))?;
        config.set_override("S3", "KEEP_RUNS", keep);
    }
    Ok(())
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole run: read JSON, build the star schema, write Parquet, load the target.
    Etl(EtlArgs),
    /// JSON → Parquet only.
    Transform(TransformArgs),
    /// Parquet star schema (from `transform`) → warehouse.
    Load(LoadArgs),
    /// Create the star-schema tables in the target (idempotent).
    CreateTables(TargetArgs),
    /// Drop the star-schema tables from the target (idempotent).
    DropTables(TargetArgs),
    /// Write deterministic synthetic Sparkify data in the real layout.
    Generate(GenerateArgs),
    /// Data-quality checks on the loaded tables (exit 1 when one fails).
    Check(crate::commands::CheckArgs),
    /// Run an example analytics query (`--list` shows them), or your own with --sql.
    Query(crate::commands::QueryArgs),
    /// Write an HTML report: headline figures, the checks' verdict and a chart of every query.
    Report(crate::report::command::ReportArgs),
    /// Delete old runs under an S3 staging prefix, keeping the latest (--keep-runs).
    PruneRuns(crate::commands::PruneArgs),
}

/// How to reach a warehouse.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Where to load: local (Parquet only), postgres://user[:pass]@host[:port]/db[?sslmode=…], or
    /// redshift. A postgres URL without a password uses PGPASSWORD.
    #[arg(long, default_value = "local")]
    pub target: String,
    /// Allow a connection without TLS to a host that is not this machine.
    #[arg(long)]
    pub allow_insecure: bool,
    /// Print what would be executed; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How loaded rows combine with the warehouse's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WriteArg {
    /// Upsert by key; a user keeps the level of their newest event (incremental runs).
    Merge,
    /// Every table ends up holding exactly this run's rows (full backfill).
    Replace,
    /// Song plays and time rows in the processed range (each --window, or --since..--until) are
    /// deleted and reinserted; users, songs and artists merge (reruns of corrected days).
    ReplaceWindow,
}

impl WriteArg {
    /// The write mode of one load of a run: a replace empties the tables only for the run's
    /// first load; a window replace clears the load's own range.
    fn mode(self, scope: &LoadScope) -> Result<WriteMode> {
        match self {
            WriteArg::Merge => Ok(WriteMode::Merge),
            WriteArg::Replace if scope.starts => Ok(WriteMode::Replace),
            WriteArg::Replace => Ok(WriteMode::Merge),
            WriteArg::ReplaceWindow => scope.replace_window(),
        }
    }
}

/// Flags of `load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Folder holding the Parquet star schema (for Redshift, published to the S3 STAGING prefix first).
    #[arg(long, value_name = "DIR", default_value = "warehouse")]
    pub input: PathBuf,
    /// Redshift only: load the run that STAGING/_latest names (S3 section of the config), not a folder.
    #[arg(long, conflicts_with = "input")]
    pub from_latest: bool,
    /// Target and connection flags.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Merge (default), replace, or replace-window (with --since and --until).
    #[arg(long, value_enum, default_value_t = WriteArg::Merge)]
    pub write: WriteArg,
    /// With --write replace-window: the first UTC date or instant of the range replaced.
    #[arg(long, value_name = "DATE|TIME", value_parser = crate::window::parse_instant)]
    pub since: Option<i64>,
    /// With --write replace-window: the end (excluded) of the range replaced.
    #[arg(long, value_name = "DATE|TIME", value_parser = crate::window::parse_instant)]
    pub until: Option<i64>,
    /// Print the load summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `transform` (and the first half of `etl`).
#[derive(Debug, Args)]
pub struct TransformArgs {
    /// Folder or s3://bucket/prefix holding song_data/ and log_data/ [default: the bundled sample]
    #[arg(long, value_name = "DIR|S3")]
    pub input: Option<String>,
    /// Where the Parquet star schema goes.
    #[arg(long, value_name = "DIR|S3", default_value = "warehouse")]
    pub output: String,
    /// Rejected records tolerated before the run fails and publishes nothing.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_bad_records: u64,
    /// Parquet page compression (Redshift loads snappy).
    #[arg(long, value_enum, default_value_t = Codec::Snappy)]
    pub compression: Codec,
    /// Rows per Parquet file before a new part starts.
    #[arg(long, value_name = "N", default_value_t = WriterOptions::default().rows_per_file)]
    pub rows_per_file: usize,
    /// Print what would be read, written and executed; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// S3 requests in flight at once (many small song objects want many; at most 256).
    #[arg(long, value_name = "N", default_value_t = crate::source::s3::DEFAULT_CONCURRENCY)]
    pub s3_concurrency: usize,
    /// Most bytes one input file may bring into memory: a song file, an S3 object, a .gz file
    /// once decompressed (uncompressed local log files are read in parts and have no limit).
    /// Larger files are rejected, unread or not read past it. Accepts K, M, G suffixes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::source::DEFAULT_MAX_FILE_BYTES, value_parser = crate::plan::parse_byte_size)]
    pub max_file_bytes: u64,
    /// When another run holds the output, wait for it to end instead of failing at once.
    #[arg(long)]
    pub wait_for_lock: bool,
    /// Keep only events at or after this UTC date or instant (2018-11-05, 2018-11-05T06:00:00Z).
    /// Log files named for earlier days are not read.
    #[arg(long, value_name = "DATE|TIME", value_parser = crate::window::parse_instant)]
    pub since: Option<i64>,
    /// Keep only events before this UTC date or instant (the end is excluded). Log files named
    /// for later days are not read.
    #[arg(long, value_name = "DATE|TIME", value_parser = crate::window::parse_instant)]
    pub until: Option<i64>,
    /// Process the events one UTC day, ISO week or month at a time, publishing (and loading)
    /// each window before the next: memory is bounded by the largest window, not the input.
    #[arg(long, value_enum, value_name = "SIZE")]
    pub window: Option<crate::window::WindowSize>,
    /// Go on with a windowed run that was interrupted: skip the windows the output already holds
    /// (recorded in <output>/_windows.json).
    #[arg(long, requires = "window")]
    pub resume: bool,
}

/// Flags of `etl`.
#[derive(Debug, Args)]
pub struct EtlArgs {
    /// Input, output and run flags.
    #[command(flatten)]
    pub transform: TransformArgs,
    /// Where to load: local (Parquet only), postgres://user[:pass]@host[:port]/db[?sslmode=…], or
    /// redshift. A postgres URL without a password uses PGPASSWORD.
    #[arg(long, default_value = "local")]
    pub target: String,
    /// Allow a connection without TLS to a host that is not this machine.
    #[arg(long)]
    pub allow_insecure: bool,
    /// Merge (default), replace, or replace-window (the range of --window or --since/--until).
    #[arg(long, value_enum, default_value_t = WriteArg::Merge)]
    pub write: WriteArg,
    /// transform: sparkify builds the star schema; elt: the warehouse builds it from staged raw
    /// JSON with INSERT … SELECT (Redshift; PostgreSQL too).
    #[arg(long, value_enum, default_value_t = crate::commands::Mode::Transform)]
    pub mode: crate::commands::Mode,
}

/// Flags of `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Folder to write song_data/ and log_data/ into.
    #[arg(long)]
    pub output: PathBuf,
    /// Song files.
    #[arg(long, default_value_t = 1000)]
    pub songs: u64,
    /// Log events (all pages).
    #[arg(long, default_value_t = 10_000)]
    pub events: u64,
    /// Random seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of song plays that match a generated song.
    #[arg(long, default_value_t = 0.5)]
    pub match_rate: f64,
    /// Days of logs, from 2018-11-01.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
}

impl TransformArgs {
    fn plan(&self, config: &Config) -> Result<TransformPlan> {
        let input = match &self.input {
            Some(i) => Location::parse(i),
            None => match config_input(config)? {
                Some(root) => Location::S3(root),
                None => Location::Local(default_input()),
            },
        };
        TransformPlan {
            input,
            output: Location::parse(&self.output),
            max_bad_records: self.max_bad_records,
            writer: WriterOptions {
                codec: self.compression,
                rows_per_file: self.rows_per_file,
                ..WriterOptions::default()
            },
            s3: S3Options {
                region: config.input_region(),
                concurrency: self.s3_concurrency,
                keep_runs: crate::sink::s3::KeepRuns::from_config(config)?,
            },
            limits: crate::source::Limits {
                max_file_bytes: self.max_file_bytes,
            },
            wait_for_lock: self.wait_for_lock,
            range: crate::window::TimeRange {
                since: self.since,
                until: self.until,
            },
            window: self.window,
            resume: self.resume,
        }
        .validate()
    }
}

/// The input root named by `[S3] SONG_DATA` and `LOG_DATA`, which must be `<root>/song_data` and
/// `<root>/log_data`; `None` when the config names neither.
fn config_input(config: &Config) -> Result<Option<String>> {
    let (songs, logs) = (config.get("S3", "SONG_DATA"), config.get("S3", "LOG_DATA"));
    let (songs, logs) = match (songs, logs) {
        (None, None) => return Ok(None),
        (Some(s), Some(l)) => (s, l),
        (None, Some(_)) => return Err(config.require("S3", "SONG_DATA").unwrap_err().into()),
        (Some(_), None) => return Err(config.require("S3", "LOG_DATA").unwrap_err().into()),
    };
    let root = |url: &str, dir: &str| {
        url.trim_end_matches('/')
            .strip_suffix(dir)
            .map(str::to_string)
    };
    match (root(&songs, "/song_data"), root(&logs, "/log_data")) {
        (Some(a), Some(b)) if a == b => Ok(Some(a)),
        _ => Err(config
            .invalid(
                "S3",
                "SONG_DATA",
                "SONG_DATA and LOG_DATA must be <root>/song_data and <root>/log_data of one root",
            )
            .into()),
    }
}

/// Runs the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let mut config = Config::load(cli.config.as_deref())?;
    apply_session_flags(&cli, &mut config)?;
    let progress = Progress::new(cli.quiet);
    match &cli.command {
        Command::Etl(args) => {
            let target = Target::parse(&args.target, args.allow_insecure, &config)?;
            let plan = args.transform.plan(&config)?;
            let elt = args.mode == crate::commands::Mode::Elt;
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
                let t = &args.transform;
                return crate::commands::etl_elt(
                    &target, &plan, mode, &config, t.dry_run, t.json, cli.quiet,
                );
            }
            if args.transform.dry_run {
                println!("{plan}");
                let describe = |mode| describe_load(&target, mode, false);
                match args.write {
                    WriteArg::ReplaceWindow => {
                        print!("{}", replace_window::describe_loads(&plan, describe)?)
                    }
                    write => print!("{}", describe(write.mode(&first)?)?),
                }
                return Ok(0);
            }
            let write = args.write;
            let summary = execute_transform(&plan, &progress, |staged, summary, scope| {
                load_into(&target, staged, summary, write.mode(&scope)?)
            })?;
            print_summary(&summary, args.transform.json, cli.quiet)?;
            Ok(0)
        }
        Command::Transform(args) => {
            let plan = args.plan(&config)?;
            if args.dry_run {
                println!("{plan}");
                return Ok(0);
            }
            let summary = execute_transform(&plan, &progress, |_, _, _| Ok(()))?;
            print_summary(&summary, args.json, cli.quiet)?;
            Ok(0)
        }
        Command::Load(args) => load_command(args, &config, cli.quiet),
        Command::CreateTables(args) => ddl_command(args, &config, true),
        Command::DropTables(args) => ddl_command(args, &config, false),
        Command::Generate(args) => generate_command(args, cli.quiet),
        Command::Check(args) => crate::commands::check_command(args, &config, cli.quiet),
        Command::Query(args) => crate::commands::query_command(args, &config),
        Command::Report(args) => crate::report::command::report_command(args, &config, cli.quiet),
        Command::PruneRuns(args) => crate::commands::prune_command(args, &config),
    }
}

/// Loads the staged folder `staged` into `target` with `mode`, recording the load in `summary`.
fn load_into(
    target: &Target,
    staged: &std::path::Path,
    summary: &mut crate::summary::RunSummary,
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
            let run = load_redshift(rs, input, mode)?;
            summary.load = Some(redshift_summary(rs, &run));
            Ok(())
        }
    }
}

/// What a load will do, for `--dry-run`: lines starting `load:`, and for Redshift every statement.
/// `from_latest`: the run `_latest` names is loaded, rather than a new one published.
fn describe_load(target: &Target, mode: WriteMode, from_latest: bool) -> Result<String> {
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

/// The load summary of a Redshift run.
fn redshift_summary(rs: &RedshiftTarget, run: &RunLoad) -> crate::summary::LoadSummary {
    load_summary(&format!("{rs} from {}", run.run_url), &run.report)
}

fn print_summary(summary: &crate::summary::RunSummary, json: bool, quiet: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(summary)?);
    } else if !quiet {
        print!("{}", summary.render());
    }
    Ok(())
}

fn load_command(args: &LoadArgs, config: &Config, quiet: bool) -> Result<i32> {
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
        print!("{}", describe_load(&target, mode, args.from_latest)?);
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
    if args.json {
        println!("{}", serde_json::to_string(&load)?);
    } else if !quiet {
        print!("{}", load.render());
    }
    Ok(0)
}

fn ddl_command(args: &TargetArgs, config: &Config, create: bool) -> Result<i32> {
    let target = Target::parse(&args.target, args.allow_insecure, config)?;
    let pg = match &target {
        Target::Postgres(pg) => pg,
        Target::Redshift(rs) => {
            if args.dry_run {
                println!("-- on {rs}");
                print!("{}", redshift::plan_ddl(&rs.sql(), create).script());
            } else {
                ddl_redshift(rs, create)?;
            }
            return Ok(0);
        }
        Target::Local => {
            return Err(Error::Usage(
                "this command needs --target postgres://… or redshift".into(),
            ))
        }
    };
    if args.dry_run {
        let sql = pg.sql(crate::warehouse::sql::Dialect::Postgres);
        println!("-- on {pg}");
        let statements = if create {
            sql.create_tables()
        } else {
            sql.drop_tables()
        };
        let mut script: Vec<String> = sql.setup().to_vec();
        script.push("BEGIN;".into());
        script.extend(statements);
        script.push("COMMIT;".into());
        for statement in script {
            println!("{};", statement.trim_end().trim_end_matches(';'));
        }
        return Ok(0);
    }
    crate::warehouse::ddl_postgres(pg, create)?;
    Ok(0)
}

fn generate_command(args: &GenerateArgs, quiet: bool) -> Result<i32> {
    let options = sparkify_generate::GenerateOptions {
        output: args.output.clone(),
        songs: args.songs,
        events: args.events,
        seed: args.seed,
        match_rate: args.match_rate,
        days: args.days,
    };
    let s = sparkify_generate::generate(&options)?;
    if !quiet {
        println!(
            "generated {} song files and {} log files ({} events, {} song plays, {} matching a song, {:.1} MB) in {}",
            s.song_files,
            s.log_files,
            s.events,
            s.next_song_events,
            s.matched_events,
            s.bytes as f64 / 1e6,
            args.output.display()
        );
    }
    Ok(0)
}
