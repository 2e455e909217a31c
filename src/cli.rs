//! The command line: clap's types for the flags of every command, and their translation into a
//! validated plan ([`TransformArgs::plan`]) and config overrides ([`Cli::apply_session_flags`]).
//! What each command then does is in [`crate::command`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::plan::{default_input, Location, S3Options, TransformPlan};
use crate::sink::parquet::{Codec, WriterOptions};
use crate::warehouse::replace_window::LoadScope;
use crate::warehouse::WriteMode;
use crate::{Error, Result};

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

impl Cli {
    /// Applies `--schema`, `--statement-timeout`, `--lock-timeout` and `--keep-runs` over the
    /// config, after checking them (a bad value is refused naming the flag).
    pub fn apply_session_flags(&self, config: &mut Config) -> Result<()> {
        use crate::warehouse::session::parse_duration;
        if let Some(schema) = &self.schema {
            crate::warehouse::literal::Ident::new(schema)
                .map_err(|e| Error::Usage(format!("--schema: {e}")))?;
            config.set_override("CLUSTER", "SCHEMA", schema);
        }
        for (flag, key, value) in [
            (
                "--statement-timeout",
                "STATEMENT_TIMEOUT",
                &self.statement_timeout,
            ),
            ("--lock-timeout", "LOCK_TIMEOUT", &self.lock_timeout),
        ] {
            if let Some(v) = value {
                parse_duration(v).map_err(|e| Error::Usage(format!("{flag}: {e}")))?;
                config.set_override("CLUSTER", key, v);
            }
        }
        if let Some(keep) = &self.keep_runs {
            crate::sink::s3::KeepRuns::parse(keep)
                .map_err(|e| Error::Usage(format!("--keep-runs: {e}")))?;
            config.set_override("S3", "KEEP_RUNS", keep);
        }
        Ok(())
    }
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
    Check(CheckArgs),
    /// Run an example analytics query (`--list` shows them), or your own with --sql.
    Query(QueryArgs),
    /// Write an HTML report: headline figures, the checks' verdict and a chart of every query.
    Report(ReportArgs),
    /// Delete old runs under an S3 staging prefix, keeping the latest (--keep-runs).
    PruneRuns(PruneArgs),
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
    pub fn mode(self, scope: &LoadScope) -> Result<WriteMode> {
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
    #[arg(long, value_enum, default_value_t = Mode::Transform)]
    pub mode: Mode,
}

/// Where `etl` builds the star schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// sparkify builds it (JSON → Parquet) and the target loads the Parquet.
    #[default]
    Transform,
    /// The warehouse builds it: the raw JSON is staged there and transformed with SQL.
    Elt,
}

/// Where `check`, `query` and `report` read the star-schema tables: a warehouse, or the local
/// Parquet.
#[derive(Debug, Args)]
pub struct TablesArgs {
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
}

/// Flags of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Where the tables are.
    #[command(flatten)]
    pub tables: TablesArgs,
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
    /// Where the tables are.
    #[command(flatten)]
    pub tables: TablesArgs,
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

/// Flags of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Where the tables are.
    #[command(flatten)]
    pub tables: TablesArgs,
    /// The HTML file to write (replaced whole; its folder must exist).
    #[arg(long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
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
    /// The validated plan of these flags over `config` (`[S3] SONG_DATA`/`LOG_DATA` name the
    /// input when `--input` does not).
    pub fn plan(&self, config: &Config) -> Result<TransformPlan> {
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
