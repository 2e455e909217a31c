//! The engines that serve the report: the local Parquet and a PostgreSQL or Redshift connection.

use std::path::Path;

use tokio_postgres::Client;

use super::{Rejects, ReportSource};
use crate::sink::rejects::REJECTS_DIR;
use crate::warehouse::check::{self, Check, Report as CheckReport};
use crate::warehouse::exec::{query_text, TextRows, Warehouse};
use crate::warehouse::local::LocalWarehouse;
use crate::warehouse::postgres::PgTarget;
use crate::warehouse::sql::Dialect;
use crate::Result;

impl ReportSource for LocalWarehouse {
    fn describe(&self) -> String {
        format!("the local Parquet in {}/", self.dir().display())
    }

    fn query(&mut self, sql: &str) -> Result<TextRows> {
        Ok(LocalWarehouse::query(self, sql)?)
    }

    fn check(&mut self, checks: Vec<Check>) -> Result<CheckReport> {
        Ok(LocalWarehouse::check(self, checks)?)
    }

    /// The lines of `_rejects/*.ndjson` (one rejected record each).
    fn rejects(&mut self) -> Result<Rejects> {
        count_rejects(&self.dir().join(REJECTS_DIR))
    }
}

fn count_rejects(dir: &Path) -> Result<Rejects> {
    let io = |source| super::ReportError::Read {
        path: dir.display().to_string(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Rejects::Unknown("the output has no _rejects/ folder"))
        }
        Err(e) => return Err(io(e).into()),
    };
    let mut lines = 0;
    for entry in entries {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|x| x == "ndjson") {
            let text = std::fs::read(&path).map_err(io)?;
            lines += memchr::memchr_iter(b'\n', &text).count() as u64;
        }
    }
    Ok(Rejects::Counted(lines))
}

/// A PostgreSQL or Redshift connection serving the report.
pub struct ServerSource {
    runtime: tokio::runtime::Runtime,
    client: Client,
    dialect: Dialect,
    target: String,
}

impl ServerSource {
    /// Connects to `target`, a warehouse of `dialect`.
    pub fn connect(target: &PgTarget, dialect: Dialect) -> Result<ServerSource> {
        let runtime = crate::runtime()?;
        let client = runtime.block_on(target.connect_session(dialect))?;
        Ok(ServerSource {
            runtime,
            client,
            dialect,
            target: target.to_string(),
        })
    }
}

impl ReportSource for ServerSource {
    fn describe(&self) -> String {
        format!("{} at {}", Warehouse(self.dialect), self.target)
    }

    fn query(&mut self, sql: &str) -> Result<TextRows> {
        let rows = self
            .runtime
            .block_on(query_text(&self.client, self.dialect, None, sql))?;
        Ok(rows)
    }

    fn check(&mut self, checks: Vec<Check>) -> Result<CheckReport> {
        let report = self
            .runtime
            .block_on(check::execute(&self.client, self.dialect, checks))?;
        Ok(report)
    }

    /// A warehouse holds the star schema only; the rejects stay with the run's output.
    fn rejects(&mut self) -> Result<Rejects> {
        Ok(Rejects::Unknown(
            "not kept in the warehouse (see the run's _rejects/ output)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_are_counted_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let rejects = dir.path().join(REJECTS_DIR);
        assert!(matches!(count_rejects(&rejects), Ok(Rejects::Unknown(_))));
        std::fs::create_dir(&rejects).unwrap();
        assert_eq!(count_rejects(&rejects).unwrap(), Rejects::Counted(0));
        std::fs::write(rejects.join("part-00000.ndjson"), "{}\n{}\n").unwrap();
        std::fs::write(rejects.join("notes.txt"), "\n\n\n").unwrap();
        assert_eq!(count_rejects(&rejects).unwrap(), Rejects::Counted(2));
    }
}
