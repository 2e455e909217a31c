//! The commands: what each `sparkify` subcommand does with its validated flags, start to end.
//!
//! This is the one place where the stages meet. A command takes its flags from [`crate::cli`],
//! makes a plan, and drives the library: [`pipeline`] executes a transform plan (lock, stage,
//! transform, load, publish), [`backfill`] the same one window at a time, and the other files
//! each hold one command.
//!
//! Words used throughout: a command *executes* a plan; *transform* is JSON → star-schema Parquet
//! in sparkify, *ELT* the same built by the warehouse in SQL; *load* puts Parquet into a
//! warehouse; *publish* makes an output visible atomically; a *run* is one S3 staging run,
//! `runs/<run_id>/` behind `_latest`; a *window* is one day, week or month of a backfill.

pub mod backfill;
mod check;
mod etl;
mod generate;
mod load;
pub mod pipeline;
mod prune;
mod query;
mod report;
mod tables;

use std::path::{Path, PathBuf};

use tokio_postgres::Client;

use crate::cli::{Cli, Command, TablesArgs};
use crate::config::Config;
use crate::target::Target;
use crate::warehouse::exec::ExecError;
use crate::warehouse::postgres::PgTarget;
use crate::warehouse::sql::Dialect;
use crate::{Error, Progress, Result};

/// Executes the parsed command line; returns the process exit code (0, or 1 for a failed check).
pub fn execute(cli: Cli) -> Result<i32> {
    let mut config = Config::load(cli.config.as_deref())?;
    cli.apply_session_flags(&mut config)?;
    let progress = Progress::new(cli.quiet);
    let quiet = cli.quiet;
    match &cli.command {
        Command::Etl(args) => etl::etl(args, &config, &progress, quiet),
        Command::Transform(args) => etl::transform(args, &config, &progress, quiet),
        Command::Load(args) => load::load(args, &config, quiet),
        Command::CreateTables(args) => tables::tables(args, &config, true),
        Command::DropTables(args) => tables::tables(args, &config, false),
        Command::Generate(args) => generate::generate(args, quiet),
        Command::Check(args) => check::check(args, &config, quiet),
        Command::Query(args) => query::query(args, &config),
        Command::Report(args) => report::report(args, &config, quiet),
        Command::PruneRuns(args) => prune::prune(args, &config),
    }
}

/// What `--dry-run` prints for `check` and `query`: where, the session's statements, then
/// `statements`.
fn print_plan(
    tables: &TablesArgs,
    config: &Config,
    local: Option<&Path>,
    statements: &[String],
) -> Result<i32> {
    let mut script = Vec::new();
    match local {
        Some(dir) => println!("-- on the local Parquet in {}", dir.display()),
        None => {
            let (target, dialect) = warehouse(tables, config)?;
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
fn local_input(tables: &TablesArgs) -> Result<Option<PathBuf>> {
    match (tables.target.as_str(), tables.input.as_deref()) {
        ("local", input) => Ok(Some(input.unwrap_or(Path::new("warehouse")).to_path_buf())),
        (_, None) => Ok(None),
        (_, Some(_)) => Err(Error::Usage(
            "--input names the Parquet folder of --target local; a warehouse target reads its own tables".into(),
        )),
    }
}

/// The connection for a warehouse command, and its dialect.
fn warehouse(tables: &TablesArgs, config: &Config) -> Result<(PgTarget, Dialect)> {
    match Target::parse(&tables.target, tables.allow_insecure, config)? {
        Target::Postgres(pg) => Ok((*pg, Dialect::Postgres)),
        Target::Redshift(rs) => Ok((rs.connection, Dialect::Redshift)),
        Target::Local => Err(Error::Usage(
            "this command needs a warehouse: --target postgres://… or redshift".into(),
        )),
    }
}

/// Connects to the warehouse `--target` names (its session statements run first) and executes
/// `work` on the connection.
fn on_warehouse<T>(
    tables: &TablesArgs,
    config: &Config,
    work: impl AsyncFnOnce(&Client, Dialect) -> Result<T, ExecError>,
) -> Result<T> {
    let (target, dialect) = warehouse(tables, config)?;
    crate::runtime()?.block_on(async {
        let client = target.connect_session(dialect).await?;
        Ok(work(&client, dialect).await?)
    })
}

/// Prints `value` as one JSON line (`--json`), or its human form unless `quiet`.
fn print_result(
    value: &impl serde::Serialize,
    human: impl FnOnce() -> String,
    json: bool,
    quiet: bool,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(value)?);
    } else if !quiet {
        print!("{}", human());
    }
    Ok(())
}
