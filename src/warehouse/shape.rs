//! Before loading (and in `create-tables`): do the existing tables have the shape sparkify loads?
//!
//! `CREATE TABLE IF NOT EXISTS` compares names only, so a `users` without `level_at`, or a
//! `songplay_id` with an IDENTITY or serial default from an older Udacity solution, would pass it
//! and fail later, mid-load. [`check`] reads the columns of the star-schema tables that exist
//! (`information_schema.columns`) and compares their names, order and types with
//! [`crate::schema`]: the first difference stops the command with one error naming the table,
//! the column, what was found and what is wanted, before anything changed.

use super::server::{Executor, ServerError};
use super::sql::Sql;
use super::template::render;
use crate::schema::{Column, ColumnType, Table, TABLES};

const TABLE_COLUMNS: &str = include_str!("../../sql/postgres/table_columns.sql");

/// Why the existing tables cannot be loaded as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// The columns could not be read.
    #[error("reading the columns of the existing tables failed: {0}")]
    Query(#[source] ServerError),
    /// A table differs from the star schema.
    #[error(
        "table {table} is not shaped as sparkify loads it: column {column}: found {found}, wanted \
         {wanted}; nothing was changed (drop the table, or migrate it, then rerun)"
    )]
    Mismatch {
        /// The table.
        table: &'static str,
        /// The column's position and name.
        column: String,
        /// What the warehouse has.
        found: String,
        /// What [`crate::schema`] says.
        wanted: String,
    },
}

/// The query listing the existing columns of the star-schema tables in `sql`'s schema (else
/// `current_schema()`).
pub fn columns_query(sql: &Sql) -> String {
    let schema = sql
        .schema()
        .map_or_else(|| "current_schema()".to_owned(), |s| format!("'{s}'"));
    let tables: Vec<String> = TABLES.iter().map(|t| format!("'{}'", t.name)).collect();
    render(
        TABLE_COLUMNS,
        &[("schema", &schema), ("tables", &tables.join(", "))],
    )
}

/// Reads the existing columns on `exec` and compares them with the star schema.
pub async fn check<E: Executor>(exec: &mut E, sql: &Sql) -> Result<(), ShapeError> {
    let reply = exec
        .run(&columns_query(sql))
        .await
        .map_err(ShapeError::Query)?;
    compare(&reply.rows)
}

/// One column as `information_schema` describes it.
struct Found<'a> {
    name: &'a str,
    data_type: &'a str,
    length: Option<u32>,
    default: Option<&'a str>,
}

impl Found<'_> {
    fn describe(&self) -> String {
        let mut out = format!("{} {}", self.name, self.data_type);
        if let Some(n) = self.length {
            out.push_str(&format!("({n})"));
        }
        if let Some(d) = self.default {
            out.push_str(&format!(" DEFAULT {d}"));
        }
        out
    }
}

fn wanted(c: &Column) -> String {
    format!("{} {}", c.name, c.ty.sql_type())
}

/// Whether `found` can hold `ty` exactly: the same type, a text column at least as wide.
fn same_type(ty: ColumnType, found: &Found<'_>) -> bool {
    let t = found.data_type.to_ascii_lowercase();
    match ty {
        ColumnType::BigInt => t == "bigint",
        ColumnType::Integer => t == "integer",
        ColumnType::Double => t == "double precision",
        ColumnType::Timestamp => t == "timestamp without time zone" || t == "timestamp",
        ColumnType::Varchar(n) => {
            (t == "character varying" || t == "varchar") && found.length.is_some_and(|l| l >= n)
        }
    }
}

/// Compares rows of (table, column, data type, max length, default), in table and position order,
/// with the star schema. Tables that do not exist yet are fine.
pub fn compare(rows: &[Vec<Option<String>>]) -> Result<(), ShapeError> {
    for table in TABLES {
        let found: Vec<Found<'_>> = rows
            .iter()
            .filter(|r| cell(r, 0).map(str::trim) == Some(table.name))
            .map(|r| Found {
                name: cell(r, 1).map_or("", str::trim),
                data_type: cell(r, 2).map_or("", str::trim),
                length: cell(r, 3).and_then(|v| v.trim().parse().ok()),
                default: cell(r, 4),
            })
            .collect();
        if !found.is_empty() {
            compare_table(table, &found)?;
        }
    }
    Ok(())
}

fn cell(row: &[Option<String>], i: usize) -> Option<&str> {
    row.get(i).and_then(|v| v.as_deref())
}

fn compare_table(table: &'static Table, found: &[Found<'_>]) -> Result<(), ShapeError> {
    let fail = |i: usize, name: &str, found: String, wanted: String| ShapeError::Mismatch {
        table: table.name,
        column: format!("{} ({name})", i + 1),
        found,
        wanted,
    };
    for i in 0..table.columns.len().max(found.len()) {
        match (table.columns.get(i), found.get(i)) {
            (Some(w), Some(f)) => {
                if f.name != w.name || !same_type(w.ty, f) || f.default.is_some() {
                    return Err(fail(i, w.name, f.describe(), wanted(w)));
                }
            }
            (Some(w), None) => return Err(fail(i, w.name, "no column".into(), wanted(w))),
            (None, Some(f)) => {
                return Err(fail(i, f.name, f.describe(), "no column".into()));
            }
            (None, None) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(table: &str, col: &str, ty: &str, len: Option<u32>) -> Vec<Option<String>> {
        vec![
            Some(table.into()),
            Some(col.into()),
            Some(ty.into()),
            len.map(|n| n.to_string()),
            None,
        ]
    }

    fn users() -> Vec<Vec<Option<String>>> {
        vec![
            row("users", "user_id", "integer", None),
            row("users", "first_name", "character varying", Some(256)),
            row("users", "last_name", "character varying", Some(256)),
            row("users", "gender", "character varying", Some(16)),
            row("users", "level", "character varying", Some(16)),
            row("users", "level_at", "timestamp without time zone", None),
        ]
    }

    #[test]
    fn the_star_schema_passes_and_each_difference_is_named() {
        assert_eq!(compare(&users()), Ok(()));
        assert_eq!(compare(&[]), Ok(()));

        let mut old = users();
        old.pop();
        let e = compare(&old).unwrap_err().to_string();
        assert!(
            e.starts_with("table users is not shaped as sparkify loads it: column 6 (level_at): found no column, wanted level_at TIMESTAMP"),
            "{e}"
        );

        let mut narrow = users();
        narrow[1][3] = Some("10".into());
        let e = compare(&narrow).unwrap_err().to_string();
        assert!(
            e.contains("found first_name character varying(10), wanted first_name VARCHAR(256)"),
            "{e}"
        );

        let mut identity = users();
        identity[0][4] = Some("nextval('users_user_id_seq'::regclass)".into());
        let e = compare(&identity).unwrap_err().to_string();
        assert!(e.contains("DEFAULT nextval"), "{e}");

        let mut extra = users();
        extra.push(row("users", "note", "text", None));
        let e = compare(&extra).unwrap_err().to_string();
        assert!(
            e.contains("column 7 (note): found note text, wanted no column"),
            "{e}"
        );
    }

    #[test]
    fn the_query_names_the_schema() {
        let q = columns_query(&Sql::new(
            super::super::sql::Dialect::Postgres,
            Some(super::super::literal::Ident::new("dwh").unwrap()),
        ));
        assert!(q.contains("WHERE table_schema = 'dwh'"), "{q}");
        assert!(
            q.contains("'users', 'songs', 'artists', 'time', 'songplays'"),
            "{q}"
        );
    }
}
