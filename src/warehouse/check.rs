//! `sparkify check`: data-quality checks on the loaded star schema.
//!
//! The checks are generated from [`crate::schema`] and the templates under `sql/checks/`, so they
//! follow the tables wherever they change:
//! - `not_empty`: every table holds rows;
//! - `null_key` / `null_value`: no NULL in a key column / in any other column declared NOT NULL;
//! - `duplicate_key`: no key value held by two rows;
//! - `orphan`: every song play's user and start time are in `users` and `time`, and its song and
//!   artist (when not NULL) in `songs` and `artists`; every song's artist is in `artists`;
//! - `summary_rows` (with a run summary): each table holds exactly the rows the run reported.
//!
//! Each check is one `SELECT COUNT(*)` that counts offending rows (or, for `not_empty` and
//! `summary_rows`, all rows), in SQL that PostgreSQL and Redshift both run.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::exec::{query_counts, ExecError};
use super::render;
use super::sql::Dialect;
use super::template::render as fill;
use crate::schema::{Table, ARTISTS, SONGPLAYS, SONGS, TABLES, TIME, USERS};

const ROW_COUNT: &str = include_str!("../../sql/checks/row_count.sql");
const NULL_VALUES: &str = include_str!("../../sql/checks/null_values.sql");
const DUPLICATE_KEYS: &str = include_str!("../../sql/checks/duplicate_keys.sql");
const ORPHANS: &str = include_str!("../../sql/checks/orphans.sql");

/// A reference from one table's column to another table's key.
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    /// The referring table.
    pub table: &'static Table,
    /// The referring column.
    pub column: &'static str,
    /// The table referred to.
    pub parent: &'static Table,
    /// Its key column.
    pub parent_column: &'static str,
}

const fn reference(
    table: &'static Table,
    column: &'static str,
    parent: &'static Table,
    parent_column: &'static str,
) -> Reference {
    Reference {
        table,
        column,
        parent,
        parent_column,
    }
}

/// The star schema's references (not declared as foreign keys: Redshift does not enforce them).
pub static REFERENCES: [Reference; 5] = [
    reference(&SONGPLAYS, "user_id", &USERS, "user_id"),
    reference(&SONGPLAYS, "start_time", &TIME, "start_time"),
    reference(&SONGPLAYS, "song_id", &SONGS, "song_id"),
    reference(&SONGPLAYS, "artist_id", &ARTISTS, "artist_id"),
    reference(&SONGS, "artist_id", &ARTISTS, "artist_id"),
];

/// What a check's count must be to pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// No offending rows.
    Zero,
    /// At least one row.
    AtLeastOne,
    /// Exactly this many rows.
    Exactly(u64),
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Zero => f.write_str("0"),
            Expect::AtLeastOne => f.write_str(">= 1"),
            Expect::Exactly(n) => write!(f, "{n}"),
        }
    }
}

impl Expect {
    pub(crate) fn holds(self, found: u64) -> bool {
        match self {
            Expect::Zero => found == 0,
            Expect::AtLeastOne => found >= 1,
            Expect::Exactly(n) => found == n,
        }
    }
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Kind: `not_empty`, `null_key`, `null_value`, `duplicate_key`, `orphan`, `summary_rows`.
    pub check: &'static str,
    /// The table checked.
    pub table: &'static str,
    /// The column, or `column -> table.column` for a reference.
    pub column: Option<String>,
    /// What the count must be.
    pub expected: Expect,
    /// The statement.
    #[serde(skip)]
    pub sql: String,
}

/// Every check of the star schema, in order: per table (dimensions first) emptiness, NULLs and
/// duplicate keys; then the references; then, when `expected_rows` is given, the row counts.
pub fn checks(expected_rows: &BTreeMap<String, u64>) -> Vec<Check> {
    let mut out = Vec::new();
    for t in TABLES {
        out.push(Check {
            check: "not_empty",
            table: t.name,
            column: None,
            expected: Expect::AtLeastOne,
            sql: fill(ROW_COUNT, &[("table", t.name)]),
        });
        for (i, c) in t.columns.iter().enumerate().filter(|(_, c)| !c.nullable) {
            out.push(Check {
                check: if i < t.key_len {
                    "null_key"
                } else {
                    "null_value"
                },
                table: t.name,
                column: Some(c.name.to_owned()),
                expected: Expect::Zero,
                sql: fill(NULL_VALUES, &[("table", t.name), ("column", c.name)]),
            });
        }
        let key = t
            .key()
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ");
        out.push(Check {
            check: "duplicate_key",
            table: t.name,
            column: Some(key.clone()),
            expected: Expect::Zero,
            sql: fill(DUPLICATE_KEYS, &[("table", t.name), ("key_columns", &key)]),
        });
    }
    for r in &REFERENCES {
        out.push(Check {
            check: "orphan",
            table: r.table.name,
            column: Some(format!(
                "{} -> {}.{}",
                r.column, r.parent.name, r.parent_column
            )),
            expected: Expect::Zero,
            sql: fill(
                ORPHANS,
                &[
                    ("table", r.table.name),
                    ("column", r.column),
                    ("parent", r.parent.name),
                    ("parent_column", r.parent_column),
                ],
            ),
        });
    }
    for t in TABLES {
        if let Some(&n) = expected_rows.get(t.name) {
            out.push(Check {
                check: "summary_rows",
                table: t.name,
                column: None,
                expected: Expect::Exactly(n),
                sql: fill(ROW_COUNT, &[("table", t.name)]),
            });
        }
    }
    out
}

/// The outcome of one check.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The check.
    #[serde(flatten)]
    pub check: Check,
    /// The count found; `None` when the check could not run (its table is missing).
    pub found: Option<u64>,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed without a count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// All outcomes.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Whether every check passed.
    pub passed: bool,
    /// Checks that failed.
    pub failed: usize,
    /// Every check, in order.
    pub checks: Vec<Outcome>,
}

impl Report {
    /// The outcomes of the failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Outcome> {
        self.checks.iter().filter(|o| !o.passed)
    }

    /// A readable table of all checks and a verdict line.
    pub fn render(&self) -> String {
        let headers: Vec<String> = ["check", "table", "column", "found", "expected", "result"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rows: Vec<Vec<Option<String>>> = self
            .checks
            .iter()
            .map(|o| {
                vec![
                    Some(o.check.check.to_owned()),
                    Some(o.check.table.to_owned()),
                    o.check.column.clone(),
                    Some(o.found.map_or_else(|| "-".into(), |n| n.to_string())),
                    Some(o.check.expected.to_string()),
                    Some(match (&o.detail, o.passed) {
                        (_, true) => "ok".to_owned(),
                        (Some(d), false) => format!("FAILED ({d})"),
                        (None, false) => "FAILED".to_owned(),
                    }),
                ]
            })
            .collect();
        let mut out = render::table(&headers, &rows);
        out.push_str(&format!(
            "{} checks: {} passed, {} failed\n",
            self.checks.len(),
            self.checks.len() - self.failed,
            self.failed
        ));
        out
    }
}

/// Executes `checks` (in the order of [`checks`]) on `client`. A table that does not exist fails its
/// checks, and those following its references, with that reason instead of stopping; any
/// other error stops it.
pub async fn execute(
    client: &Client,
    dialect: Dialect,
    checks: Vec<Check>,
) -> Result<Report, ExecError> {
    let mut missing: BTreeMap<&str, String> = BTreeMap::new();
    let mut outcomes = Vec::with_capacity(checks.len());
    for check in checks {
        let tables = check_tables(&check);
        if let Some(reason) = tables.iter().find_map(|t| missing.get(t)) {
            let detail = Some(reason.clone());
            outcomes.push(Outcome {
                check,
                found: None,
                passed: false,
                detail,
            });
            continue;
        }
        match query_counts(client, dialect, Some(check.table), &check.sql).await {
            Ok(counts) => {
                let found = counts.first().copied().unwrap_or(0);
                outcomes.push(Outcome {
                    passed: check.expected.holds(found),
                    found: Some(found),
                    detail: None,
                    check,
                });
            }
            Err(e) if e.code() == Some(SqlState::UNDEFINED_TABLE.code()) => {
                // Each table's first check reads only that table, and every table is counted
                // before any reference is followed, so the missing table is `check.table`.
                let reason = format!("table {} does not exist", check.table);
                missing.insert(check.table, reason.clone());
                outcomes.push(Outcome {
                    check,
                    found: None,
                    passed: false,
                    detail: Some(reason),
                });
            }
            Err(e) => return Err(e),
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    Ok(Report {
        passed: failed == 0,
        failed,
        checks: outcomes,
    })
}

/// The tables a check reads.
pub(crate) fn check_tables(check: &Check) -> Vec<&'static str> {
    let mut v = vec![check.table];
    if check.check == "orphan" {
        if let Some(r) = REFERENCES.iter().find(|r| {
            r.table.name == check.table
                && check
                    .column
                    .as_deref()
                    .is_some_and(|c| c.starts_with(&format!("{} ->", r.column)))
        }) {
            v.push(r.parent.name);
        }
    }
    v
}

/// The rows per table of a run summary (`etl --json`): its `tables[].name` and `rows`.
pub fn summary_rows(path: &Path) -> Result<BTreeMap<String, u64>, ExecError> {
    let fail = |reason: String| ExecError::Summary {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("not JSON: {e}")))?;
    let tables = doc
        .get("tables")
        .and_then(|t| t.as_array())
        .ok_or_else(|| fail("no `tables` array (expected the output of `etl --json`)".into()))?;
    let mut out = BTreeMap::new();
    for t in tables {
        let name = t.get("name").and_then(|n| n.as_str());
        let rows = t.get("rows").and_then(|r| r.as_u64());
        match (name, rows) {
            (Some(name), Some(rows)) if Table::by_name(name).is_some() => {
                out.insert(name.to_owned(), rows);
            }
            (Some(name), Some(_)) => return Err(fail(format!("unknown table {name:?}"))),
            _ => return Err(fail("a `tables` entry lacks `name` or `rows`".into())),
        }
    }
    if out.is_empty() {
        return Err(fail("`tables` is empty".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_cover_the_schema() {
        let all = checks(&BTreeMap::new());
        for t in TABLES {
            assert!(all
                .iter()
                .any(|c| c.check == "duplicate_key" && c.table == t.name));
            assert!(all
                .iter()
                .any(|c| c.check == "null_key" && c.table == t.name));
        }
        assert_eq!(all.iter().filter(|c| c.check == "orphan").count(), 5);
        assert!(all.iter().all(|c| !c.sql.contains('{')), "placeholder left");
        let orphan = all.iter().find(|c| c.check == "orphan").unwrap();
        assert_eq!(check_tables(orphan), vec!["songplays", "users"]);
    }

    #[test]
    fn references_name_real_columns() {
        for r in &REFERENCES {
            assert!(r.table.columns.iter().any(|c| c.name == r.column));
            assert_eq!(r.parent.key()[0].name, r.parent_column);
        }
    }

    #[test]
    fn summary_rows_are_read_from_etl_json() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        std::fs::write(&p, r#"{"tables":[{"name":"users","rows":97,"files":1}]}"#).unwrap();
        assert_eq!(summary_rows(&p).unwrap().get("users"), Some(&97));
        std::fs::write(&p, r#"{"tables":[{"name":"nope","rows":1}]}"#).unwrap();
        assert!(summary_rows(&p).unwrap_err().to_string().contains("nope"));
        std::fs::write(&p, "not json").unwrap();
        assert!(summary_rows(&p).is_err());
    }
}
