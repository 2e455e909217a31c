//! `sparkify query`: example analytics over the star schema, from `sql/analytics/*.sql`.
//!
//! Each file is one `SELECT` that PostgreSQL and Redshift both run; its first line is a `-- `
//! comment naming what it answers. Results are fetched as text (the simple query protocol), so any
//! column type prints the way the warehouse prints it.

use serde::Serialize;
use tokio_postgres::Client;

use super::exec::{query_text, ExecError, TextRows};
use super::render;
use super::sql::Dialect;

/// One analytics query.
#[derive(Debug, Clone, Copy)]
pub struct Analytic {
    /// The name given to `sparkify query NAME` (the file name without `.sql`).
    pub name: &'static str,
    /// The statement, with its title comment.
    pub sql: &'static str,
}

impl Analytic {
    /// What the query answers: its first comment line.
    pub fn title(&self) -> &'static str {
        self.sql
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("--"))
            .map_or("", str::trim)
    }
}

macro_rules! analytic {
    ($name:literal) => {
        Analytic {
            name: $name,
            sql: include_str!(concat!("../../sql/analytics/", $name, ".sql")),
        }
    };
}

/// Every analytics query, in the order `--list` shows them.
pub static ANALYTICS: [Analytic; 8] = [
    analytic!("top_songs"),
    analytic!("top_artists"),
    analytic!("busiest_users"),
    analytic!("free_vs_paid"),
    analytic!("plays_by_hour"),
    analytic!("plays_by_weekday"),
    analytic!("top_locations"),
    analytic!("users_by_level"),
];

/// The query named `name`.
pub fn find(name: &str) -> Option<&'static Analytic> {
    ANALYTICS.iter().find(|a| a.name == name)
}

/// The names and titles, one per line, for `--list`.
pub fn list() -> String {
    let width = ANALYTICS.iter().map(|a| a.name.len()).max().unwrap_or(0);
    ANALYTICS
        .iter()
        .map(|a| format!("{:<width$}  {}\n", a.name, a.title()))
        .collect()
}

/// A query's result.
#[derive(Debug, Clone, Serialize)]
pub struct QueryResult {
    /// The query's name.
    pub query: &'static str,
    /// What it answers.
    pub title: &'static str,
    /// Columns and rows as text.
    #[serde(flatten)]
    pub rows: TextRows,
}

impl QueryResult {
    /// The title and a readable table.
    pub fn render(&self) -> String {
        format!(
            "{}\n{}",
            self.title,
            render::table(&self.rows.columns, &self.rows.rows)
        )
    }
}

/// Executes `analytic` on `client`.
pub async fn execute(
    client: &Client,
    dialect: Dialect,
    analytic: &'static Analytic,
) -> Result<QueryResult, ExecError> {
    Ok(QueryResult {
        query: analytic.name,
        title: analytic.title(),
        rows: query_text(client, dialect, None, analytic.sql).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_registered_and_titled() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/analytics");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .map(|n| n.trim_end_matches(".sql").to_owned())
            .collect();
        files.sort();
        let mut names: Vec<String> = ANALYTICS.iter().map(|a| a.name.to_owned()).collect();
        names.sort();
        assert_eq!(files, names);
        for a in &ANALYTICS {
            assert!(!a.title().is_empty(), "{} has no title comment", a.name);
            assert_eq!(a.sql.matches(';').count(), 1, "{}: one statement", a.name);
        }
        assert!(list().starts_with("top_songs ") && list().contains("  Most played songs"));
    }
}
