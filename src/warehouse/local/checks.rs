//! `sparkify check` on the local Parquet: the same checks, outcomes and report as on a server.

use super::{LocalError, LocalWarehouse};
use crate::warehouse::check::{check_tables, Check, Outcome, Report};
use crate::warehouse::exec::first_line;

impl LocalWarehouse {
    /// Runs `checks` (from [`crate::warehouse::check::checks`]). A check that reads a table with
    /// no folder fails with `table … does not exist`, the reason a server gives; any other error
    /// stops the run.
    pub fn check(&self, checks: Vec<Check>) -> Result<Report, LocalError> {
        let mut outcomes = Vec::with_capacity(checks.len());
        for check in checks {
            if let Some(table) = check_tables(&check)
                .into_iter()
                .find(|t| !self.has_table(t))
            {
                outcomes.push(Outcome {
                    check,
                    found: None,
                    passed: false,
                    detail: Some(format!("table {table} does not exist")),
                });
                continue;
            }
            let found = self.count(&check.sql)?;
            outcomes.push(Outcome {
                passed: check.expected.holds(found),
                found: Some(found),
                detail: None,
                check,
            });
        }
        let failed = outcomes.iter().filter(|o| !o.passed).count();
        Ok(Report {
            passed: failed == 0,
            failed,
            checks: outcomes,
        })
    }

    /// Runs a statement returning one count.
    fn count(&self, sql: &str) -> Result<u64, LocalError> {
        let rows = self.query(sql)?;
        match rows.rows.as_slice() {
            [row] => row
                .first()
                .and_then(|v| v.as_deref())
                .and_then(|v| v.parse().ok()),
            _ => None,
        }
        .ok_or_else(|| LocalError::Unexpected {
            statement: first_line(sql),
            found: format!("{:?}", rows.rows),
        })
    }
}
