//! The one plan model of the warehouse layer: a command builds a list of typed [`Step`]s,
//! `--dry-run` prints their statements ([`script`]), and an executor runs them one by one over an
//! [`super::server::Executor`] (see [`super::exec::steps`] for what every executor shares).
//!
//! Used by the loads ([`super::postgres`], [`super::redshift`]), the DDL of both dialects
//! ([`super::ddl`]) and the ELT run in both dialects ([`super::elt`]). A leaf: it names tables and manifests, nothing that runs.

use super::literal::S3Url;

/// `BEGIN`, as plans send it.
pub const BEGIN: &str = "BEGIN;";
/// `COMMIT`, as plans send it.
pub const COMMIT: &str = "COMMIT;";
/// `ROLLBACK`, sent by executors after a failure inside the transaction.
pub const ROLLBACK: &str = "ROLLBACK;";

/// Which raw input a staging load reads (the ELT's `COPY … FROM STDIN` on PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// `song_data/**` into `staging_songs`.
    Songs,
    /// `log_data/**` into `staging_events`.
    Events,
}

/// What the executor does with a statement's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// Nothing beyond success: session settings, DDL, locks, `ANALYZE`.
    Plain,
    /// Creates the table's temporary stage before the transaction: from here on the stage is
    /// dropped however the load ends.
    CreateStage,
    /// `BEGIN`: from here on a failure rolls back.
    Begin,
    /// `COMMIT`: the load takes effect.
    Commit,
    /// A Redshift COPY from `manifest`; a failure is explained from the load-error tables.
    Copy {
        /// The manifest URL.
        manifest: S3Url,
    },
    /// `SELECT pg_last_copy_count()`, which must return `expected`.
    CopyCount {
        /// The manifest URL of the COPY checked.
        manifest: S3Url,
        /// Rows the run wrote.
        expected: u64,
    },
    /// `COPY … FROM STDIN` into a staging table: sparkify streams its parse of the input
    /// (PostgreSQL ELT, over [`super::server::Executor::client`]).
    CopyIn(Input),
    /// `COPY … FROM STDIN (FORMAT binary)` into the table's stage, run once per Parquet file of
    /// the table (PostgreSQL load, over [`super::server::Executor::client`]).
    CopyParquet,
    /// Counts the rows in the table's stage, which must equal the rows copied into it.
    CountStage,
    /// `INSERT … SELECT` building a table's stage rows in the warehouse (counted as built).
    Build,
    /// The one row of counts of the ELT run summary.
    Counts,
    /// Deletes target rows (counted).
    Delete,
    /// Inserts target rows (counted).
    Insert,
    /// Drops the table's stage, after `COMMIT` or after a failure: a failure is only logged.
    DropStage,
    /// Lists the existing columns of the star-schema tables; a table shaped otherwise than
    /// [`crate::schema`] stops the plan here, before anything changed.
    Shape,
}

/// One statement of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The table it is for, if any.
    pub table: Option<&'static str>,
    /// The statement, ending in `;`.
    pub sql: String,
    /// What its result means.
    pub kind: StepKind,
}

impl Step {
    /// A step for `table` (if any) running `sql`.
    pub fn new(table: Option<&'static str>, sql: impl Into<String>, kind: StepKind) -> Step {
        Step {
            table,
            sql: sql.into(),
            kind,
        }
    }

    /// A step for no table in particular.
    pub fn of(sql: impl Into<String>, kind: StepKind) -> Step {
        Step::new(None, sql, kind)
    }
}

/// The statements of `steps`, each trimmed and ending its line, separated by `separator` (`""`
/// for the load plans, `"\n"` — a blank line — for the ELT run): what `--dry-run` prints.
pub fn script(steps: &[Step], separator: &str) -> String {
    steps
        .iter()
        .map(|s| format!("{}\n", s.sql.trim_end()))
        .collect::<Vec<_>>()
        .join(separator)
}
