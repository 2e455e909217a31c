//! # sparkify
//!
//! An ETL engine for the Sparkify music-streaming warehouse. The pipeline, one module per stage,
//! from the command line to the warehouse:
//!
//! ```text
//! command    what a subcommand does, start to end: flags → plan   (cli, command, plan, config,
//!            → the stages below → summary                          target)
//! source     list and read song_data/ and log_data/                (source: local folder, S3)
//! parse      simd-json on reused buffers → typed records           (parse)
//! transform  star schema: songs, artists, songplays, users, time,  (transform)
//!            streamed: catalogue first, then the events
//! sink       Parquet per table, published atomically: a local      (sink)
//!            folder switched in, or an S3 run behind `_latest`
//! warehouse  PostgreSQL / Redshift: load the Parquet (COPY from    (warehouse)
//!            the S3 run), or build the tables in SQL (ELT);
//!            checks and queries, also over the local Parquet
//! report     charts and an HTML page from the tables (local       (report)
//!            Parquet or a warehouse)
//! ```
//!
//! [`command`] is the one place where the stages meet: [`command::execute`] dispatches a parsed
//! [`cli::Cli`], and [`command::pipeline`] executes a transform plan (lock, stage, transform,
//! load, publish), window by window with [`command::backfill`]. Beside the stages: [`s3`]
//! (locations, the client, GETs and error descriptions, shared by source, sink and warehouse),
//! [`window`] (date ranges and windows), [`schema`] and [`summary`]. The only `unsafe` code
//! (memory maps, `flock`, `renameat2`) is in one private module, `sys`, with what each use
//! relies on.
//!
//! One vocabulary: a command *executes* a plan; a *run* is only ever one S3 staging run,
//! `runs/<run_id>/` behind `_latest` (what a Redshift load copies from); a *window* is one day,
//! week or month of a backfill.
//!
//! The table definitions live in one place, [`schema`], which the Parquet writer, the SQL and the
//! tests all read.

#![deny(unsafe_code)]

pub mod cli;
pub mod command;
pub mod config;
pub mod parse;
pub mod plan;
pub mod progress;
pub mod report;
pub mod s3;
pub mod schema;
pub mod sink;
pub mod source;
pub mod summary;
mod sys;
pub mod target;
pub mod transform;
pub mod warehouse;
pub mod window;

pub use progress::Progress;
pub use sys::one_malloc_arena;

/// Everything that can stop a command, with what and where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading input failed.
    #[error(transparent)]
    Source(#[from] source::Error),
    /// Writing output failed.
    #[error(transparent)]
    Sink(#[from] sink::Error),
    /// Publishing output to S3 failed.
    #[error(transparent)]
    Publish(#[from] sink::s3::PublishError),
    /// The configuration file or environment is wrong.
    #[error(transparent)]
    Config(#[from] config::Error),
    /// Loading PostgreSQL failed.
    #[error(transparent)]
    Postgres(#[from] warehouse::postgres::PgError),
    /// Loading Redshift failed.
    #[error(transparent)]
    Redshift(#[from] warehouse::redshift::RedshiftError),
    /// A windowed run's state is wrong or belongs to another run.
    #[error(transparent)]
    Backfill(#[from] command::backfill::BackfillError),
    /// A table's folder of the Parquet star schema to load cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    LoadInput {
        /// The table's folder.
        path: std::path::PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The flags do not make a valid plan.
    #[error("{0}")]
    Usage(String),
    /// Building Arrow data failed (a bug, not a data problem).
    #[error("internal Arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Generating synthetic data failed.
    #[error(transparent)]
    Generate(#[from] sparkify_generate::Error),
    /// An ELT run, a check or an analytics query failed in the warehouse.
    #[error(transparent)]
    Warehouse(#[from] warehouse::exec::ExecError),
    /// Ad-hoc SQL was refused before it ran.
    #[error(transparent)]
    AdHoc(#[from] warehouse::adhoc::AdHocError),
    /// A query or check on the local Parquet failed.
    #[error(transparent)]
    Local(#[from] warehouse::local::LocalError),
    /// The report could not be made.
    #[error(transparent)]
    Report(#[from] report::ReportError),
    /// More records were rejected than `--max-bad-records` allows.
    #[error("{count} rejected records exceed --max-bad-records {max} (first: {first}); nothing was published; rejects kept in {kept}")]
    TooManyRejects {
        /// Records rejected.
        count: u64,
        /// The limit.
        max: u64,
        /// The first reject, `file:line: reason`.
        first: String,
        /// Where the rejects were kept.
        kept: String,
    },
    /// The async runtime (of S3 or warehouse requests) could not be started.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A `--json` result could not be encoded (a bug, not a data problem).
    #[error("cannot encode the --json output: {0}")]
    Json(#[from] serde_json::Error),
    /// A worker thread could not be started.
    #[error("cannot start a worker thread: {0}")]
    Thread(#[source] std::io::Error),
    /// An internal invariant does not hold (a bug, not a usage or data problem).
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// The Parquet writer thread stopped unexpectedly.
    #[error("the Parquet writer stopped unexpectedly")]
    WriterStopped,
}

impl Error {
    /// The process exit code: 1 for a data verdict (too many bad records), 2 for usage, config, I/O
    /// and connection errors.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::TooManyRejects { .. } => 1,
            _ => 2,
        }
    }
}

/// A multi-threaded tokio runtime of two workers for the blocking commands' async requests (S3,
/// the warehouse connection).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
