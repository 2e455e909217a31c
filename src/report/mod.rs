//! The report: one self-contained HTML page of what the warehouse holds (`sparkify report`, see
//! [`crate::command`]).
//!
//! The page shows the run's headline figures (rows per table, song plays and how many matched a
//! song, listeners, rejected records), the data-quality verdict of `sparkify check`, and a chart
//! of every analytics query in `sql/analytics/`. Charts are SVG drawn by plotters ([`charts`]) and
//! inlined, with the styles, into the one file: it opens anywhere, with no network.
//!
//! The data comes through [`ReportSource`], which every engine serves: the local Parquet
//! ([`crate::warehouse::local::LocalWarehouse`]) and PostgreSQL or Redshift ([`ServerSource`]).
//! [`gather`] asks it for everything the page shows; [`html::page`] lays the page out.

mod analytics;
pub mod charts;
pub mod html;
mod sources;

use std::path::Path;

use crate::warehouse::check::{self, Check, Report as CheckReport};
use crate::warehouse::exec::TextRows;
use crate::warehouse::query::{QueryResult, ANALYTICS};

pub use sources::ServerSource;

/// The headline query: song plays, matched plays, listeners, first and last play.
pub const HEADLINE: &str = include_str!("../../sql/report/headline.sql");

/// Errors of the report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A query returned columns or values the page cannot show (its SQL was changed).
    #[error("the report cannot show query {query}: {reason}")]
    Shape {
        /// The query.
        query: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// plotters could not draw a chart.
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    /// The output's rejects cannot be read to be counted.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The page cannot be written.
    #[error("cannot write the report {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The rejected records of the run behind the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejects {
    /// Counted in the output's `_rejects/` folder.
    Counted(u64),
    /// Not known: why (a warehouse does not keep the run's rejects).
    Unknown(&'static str),
}

/// A warehouse the report can read: the local Parquet, PostgreSQL or Redshift.
pub trait ReportSource {
    /// Where the tables are, for the page (passwords hidden).
    fn describe(&self) -> String;
    /// Runs one read-only query; rows as the warehouse prints them.
    fn query(&mut self, sql: &str) -> crate::Result<TextRows>;
    /// Runs the data-quality checks.
    fn check(&mut self, checks: Vec<Check>) -> crate::Result<CheckReport>;
    /// The run's rejected records, when the source keeps them.
    fn rejects(&mut self) -> crate::Result<Rejects>;
}

/// Everything the page shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// Where the tables were read.
    pub source: String,
    /// The checks' outcomes (their `not_empty` counts are the rows per table).
    pub checks: CheckReport,
    /// The headline query's one row.
    pub headline: TextRows,
    /// Rejected records.
    pub rejects: Rejects,
    /// Every analytics query's result, in [`ANALYTICS`] order.
    pub analytics: Vec<QueryResult>,
}

impl ReportData {
    /// Rows per table, from the `not_empty` checks; `None` for a table that could not be counted.
    pub fn table_rows(&self) -> Vec<(&'static str, Option<u64>)> {
        self.checks
            .checks
            .iter()
            .filter(|o| o.check.check == "not_empty")
            .map(|o| (o.check.table, o.found))
            .collect()
    }
}

/// Reads everything the page shows from `source`: checks first (a missing table shows as a failed
/// check), then the headline and every analytics query.
pub fn gather(source: &mut dyn ReportSource) -> crate::Result<ReportData> {
    let checks = source.check(check::checks(&Default::default()))?;
    let headline = source.query(HEADLINE)?;
    let rejects = source.rejects()?;
    let analytics = ANALYTICS
        .iter()
        .map(|a| {
            Ok(QueryResult {
                query: a.name,
                title: a.title(),
                rows: source.query(a.sql)?,
            })
        })
        .collect::<crate::Result<Vec<_>>>()?;
    Ok(ReportData {
        source: source.describe(),
        checks,
        headline,
        rejects,
        analytics,
    })
}

/// Renders `data` and writes it to `path` through a temporary file beside it, renamed into place:
/// a reader never sees half a page, and an interrupted run leaves the previous report whole.
pub fn write(data: &ReportData, path: &Path) -> Result<(), ReportError> {
    let page = html::page(data)?;
    let fail = |source| ReportError::Write {
        path: path.display().to_string(),
        source,
    };
    let name = path
        .file_name()
        .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, page).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}
