//! Executing the ELT statements on a connection, and what they did.

use std::sync::Arc;
use std::time::Instant;

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use super::sql::EltSql;
use super::staging::{spawn_parser, Input, Msg, ParseStats};
use crate::source::{InputFile, Source};
use crate::warehouse::exec::steps::StepSession;
use crate::warehouse::exec::{self, statement_error, ExecError, Executor, Reply, Warehouse};
use crate::warehouse::plan::StepKind;
use crate::warehouse::postgres::pg_type;
use crate::warehouse::sql::{statement_body, Dialect, WriteMode};
use crate::{Error, Result};

/// The input sparkify stages itself (PostgreSQL), already listed.
pub struct LocalInput {
    /// Where the files are read from.
    pub source: Arc<dyn Source>,
    /// `song_data/**` files, in path order.
    pub song_files: Vec<InputFile>,
    /// `log_data/**` files, in path order.
    pub log_files: Vec<InputFile>,
    /// Rejected records tolerated.
    pub max_bad_records: u64,
    /// Progress bars (hidden unless stderr is a terminal).
    pub progress: crate::Progress,
}

/// What the parser staged (PostgreSQL only: on Redshift, COPY does the reading).
#[derive(Debug, Default, Clone)]
pub struct Staged {
    /// Song files.
    pub songs: ParseStats,
    /// Log files.
    pub events: ParseStats,
}

impl Staged {
    /// Rejected records, songs first.
    pub fn rejects(&self) -> impl Iterator<Item = &crate::parse::Reject> {
        self.songs.rejects.iter().chain(&self.events.rejects)
    }
}

/// The counts of `elt_counts.sql`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Rows in `staging_events`.
    pub events: u64,
    /// Staged song plays that qualify for `songplays` (before duplicates collapse).
    pub song_plays: u64,
    /// Rows in `staging_songs`.
    pub song_records: u64,
    /// Distinct usable songs (the catalogue).
    pub songs: u64,
    /// Song plays matched to a song.
    pub matched: u64,
}

/// Rows built, deleted and inserted for one table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TableCounts {
    /// Table name.
    pub table: &'static str,
    /// Rows the `INSERT … SELECT` built into the stage table.
    pub built: u64,
    /// Rows deleted from the final table.
    pub deleted: u64,
    /// Rows inserted into the final table.
    pub inserted: u64,
}

/// What executing the ELT statements did.
#[derive(Debug, Clone)]
pub struct EltReport {
    /// The warehouse.
    pub dialect: Dialect,
    /// Replace or merge.
    pub mode: WriteMode,
    /// Per table, in [`crate::schema::TABLES`] order.
    pub tables: Vec<TableCounts>,
    /// Staging and catalogue counts.
    pub counts: Counts,
    /// Seconds per stage: `stage` (COPY), `build` (INSERT … SELECT), `load` (DELETE/INSERT).
    pub stages: Vec<(String, f64)>,
}

impl EltReport {
    /// The counts of one table.
    pub fn table(&self, name: &str) -> Option<&TableCounts> {
        self.tables.iter().find(|t| t.table == name)
    }
}

/// Executes every step of `sql` on `exec`. The final tables change only in the step's one
/// transaction; staging and catalogue tables are temporary. On PostgreSQL `input` feeds the
/// `COPY … FROM STDIN` steps (over [`Executor::client`]) and `staged` receives what the parser
/// made of it; past `max_bad_records` rejects it stops before the transaction with
/// [`Error::TooManyRejects`] (whose `kept` the caller fills in). On Redshift it only sends
/// statements, so any [`Executor`] (a test's emulation included) can execute it.
pub async fn execute<E: Executor>(
    exec: &mut E,
    sql: &EltSql,
    input: Option<&LocalInput>,
    staged: &mut Staged,
) -> Result<EltReport> {
    let dialect = sql.dialect();
    let mut report = EltReport {
        dialect,
        mode: sql.mode(),
        tables: crate::schema::TABLES
            .iter()
            .map(|t| TableCounts {
                table: t.name,
                ..TableCounts::default()
            })
            .collect(),
        counts: Counts::default(),
        stages: Vec::new(),
    };
    let mut session = StepSession::new(dialect);
    let mut clock = Instant::now();
    let steps = sql.steps();
    let outcome = async {
        crate::warehouse::shape::check(exec, sql.sql())
            .await
            .map_err(ExecError::from)?;
        for step in &steps {
            match &step.kind {
                StepKind::CopyIn(which) => {
                    let local = input.ok_or_else(|| {
                        Error::Internal("an ELT plan that stages local input was given none")
                    })?;
                    let client = exec.client().ok_or_else(|| {
                        Error::Internal("staging local input needs a PostgreSQL connection")
                    })?;
                    let stats = copy_in(client, dialect, local, *which, &step.sql).await?;
                    match which {
                        Input::Songs => staged.songs = stats,
                        Input::Events => staged.events = stats,
                    }
                    if *which == Input::Events {
                        check_rejects(staged, local.max_bad_records)?;
                    }
                }
                kind => {
                    if *kind == StepKind::Begin {
                        report.stages.push(("stage".into(), lap(&mut clock)));
                    } else if *kind == StepKind::Counts {
                        report.stages.push(("build".into(), lap(&mut clock)));
                    }
                    let reply = session.run(exec, step).await.map_err(|e| match kind {
                        // Whatever the outcome, the transaction is over: no ROLLBACK after it.
                        StepKind::Commit if e.code.is_none() => ExecError::CommitUnknown {
                            warehouse: Warehouse(dialect),
                            reason: e.message,
                        },
                        _ => session.error(step, e),
                    })?;
                    if *kind == StepKind::Counts {
                        report.counts = counts(dialect, &step.sql, &reply)?;
                    } else if *kind == StepKind::Commit {
                        report.stages.push(("load".into(), lap(&mut clock)));
                    }
                }
            }
            tracing::debug!(statement = %exec::first_line(&step.sql), "done");
        }
        Ok::<(), Error>(())
    }
    .await;
    if let Err(e) = outcome {
        session.clean_up(exec, &steps, "ELT run").await;
        return Err(e);
    }
    for t in &mut report.tables {
        let rows = session.rows(t.table);
        t.built = rows.built;
        t.deleted = rows.deleted;
        t.inserted = rows.inserted;
    }
    Ok(report)
}

/// The one row of `elt_counts.sql`.
fn counts(dialect: Dialect, sql: &str, reply: &Reply) -> Result<Counts, ExecError> {
    let unexpected = |reason: String| ExecError::Unexpected {
        warehouse: Warehouse(dialect),
        statement: exec::first_line(sql),
        reason,
    };
    let [row] = reply.rows.as_slice() else {
        return Err(unexpected(format!("{} rows, expected 1", reply.rows.len())));
    };
    let values = row
        .iter()
        .map(|v| {
            v.as_deref()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| unexpected(format!("{v:?} is not a count")))
        })
        .collect::<Result<Vec<u64>, _>>()?;
    match values[..] {
        [events, song_plays, song_records, songs, matched] => Ok(Counts {
            events,
            song_plays,
            song_records,
            songs,
            matched,
        }),
        _ => Err(unexpected(format!("{} columns, expected 5", values.len()))),
    }
}

fn lap(clock: &mut Instant) -> f64 {
    let secs = clock.elapsed().as_secs_f64();
    *clock = Instant::now();
    secs
}

fn check_rejects(staged: &Staged, max: u64) -> Result<()> {
    let count = staged.rejects().count() as u64;
    if count > max {
        return Err(Error::TooManyRejects {
            count,
            max,
            first: staged
                .rejects()
                .next()
                .map(|r| r.to_string())
                .unwrap_or_default(),
            kept: String::new(),
        });
    }
    Ok(())
}

/// Streams one input's parsed rows into its staging table.
async fn copy_in(
    client: &Client,
    dialect: Dialect,
    input: &LocalInput,
    which: Input,
    copy_sql: &str,
) -> Result<ParseStats> {
    let table = which.table();
    let files = match which {
        Input::Songs => input.song_files.clone(),
        Input::Events => input.log_files.clone(),
    };
    let bar = input.progress.files(
        match which {
            Input::Songs => "songs",
            Input::Events => "events",
        },
        files.len() as u64,
    );
    let (mut rx, handle) = spawn_parser(input.source.clone(), files, which, bar);
    let sink = client
        .copy_in(statement_body(copy_sql))
        .await
        .map_err(statement_error(dialect, Some(table.name), copy_sql))?;
    let types: Vec<Type> = table
        .columns
        .iter()
        .map(|c| pg_type(c.column_type()))
        .collect();
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    let mut sent = 0u64;
    let mut stats = None;
    // Dropping the writer on an early return aborts the COPY.
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Rows(rows) => {
                for row in &rows {
                    writer
                        .as_mut()
                        .write_raw(row.iter())
                        .await
                        .map_err(statement_error(dialect, Some(table.name), copy_sql))?;
                }
                sent += rows.len() as u64;
            }
            Msg::Done(s) => stats = Some(s),
            Msg::Failed(e) => return Err(e.into()),
        }
    }
    let stats = stats.ok_or(ExecError::ParserStopped(table.name))?;
    let staged = writer.as_mut().finish().await.map_err(statement_error(
        dialect,
        Some(table.name),
        copy_sql,
    ))?;
    if handle.join().is_err() {
        return Err(ExecError::ParserStopped(table.name).into());
    }
    if staged != sent || stats.rows != sent {
        return Err(ExecError::RowCountMismatch {
            table: table.name,
            sent,
            staged,
        }
        .into());
    }
    Ok(stats)
}
