//! SQL rendered from the one schema definition in [`crate::schema`].
//!
//! Statement templates live as plain files under `sql/postgres/*.sql`, with `sql/redshift/*.sql`
//! overriding the few that differ. They are compiled in with `include_str!` and filled in with
//! nothing but validated identifiers ([`Ident`]), column lists derived from [`Table`] and, for
//! Redshift's `COPY` (which takes no bind parameters), validated and quoted literals ([`S3Url`],
//! [`IamRole`]), so no unchecked text ever reaches a statement. Placeholders are written `{name}`.
//!
//! [`load`] holds the statements of a load in each write mode. The golden tests (`tests.rs`)
//! render every template for every table and compare the result with the files under
//! `tests/golden/<dialect>/`; run them with `UPDATE_GOLDEN=1` to regenerate.

mod load;

use std::fmt;

pub use super::literal::{IamRole, Ident, InvalidIdentifier, InvalidLiteral, S3Url};
use super::session::SessionSettings;
use super::template::render;
use crate::schema::{Table, TABLES};
pub use load::{
    load_error_queries, range_column, version_column, LoadStatements, RedshiftLoad, StartRange,
    WriteMode,
};

/// The SQL dialect a statement is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL 12 or newer.
    Postgres,
    /// Amazon Redshift.
    Redshift,
}

impl Dialect {
    /// The dialect's folder name under `sql/` and `tests/golden/`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Redshift => "redshift",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Redshift table attributes (distribution and sort keys).
///
/// The analytic queries join `songplays` to all four dimensions.
/// - `users`, `songs` and `artists` are small (thousands to a few million rows) and change slowly:
///   `DISTSTYLE ALL` puts a full copy on every node, so joins to them never move data.
/// - `time` is *not* small: it has one row per distinct `songplays.start_time`, i.e. about as many
///   rows as the fact table, so a copy per node would multiply the biggest dimension by the node
///   count. Instead `time` and `songplays` are both distributed by `start_time`: their join is
///   collocated, and `start_time` (millisecond event times) is nearly unique, so hashing it spreads
///   rows evenly over the slices.
/// - `song_id` would be a poor fact distribution key: most events match no song, and all their NULL
///   `song_id`s would land on one slice. `user_id` has only as many values as users (97 in the
///   sample) and skews with heavy listeners. With every other dimension `ALL`, nothing is gained
///   from either.
/// - `SORTKEY (start_time)` on both lets time-range queries (one day, one month) skip blocks via
///   zone maps, and appends of new log days arrive already in sort order.
fn redshift_table_attributes(table: &Table) -> &'static str {
    match table.name {
        "time" | "songplays" => "DISTSTYLE KEY DISTKEY (start_time) SORTKEY (start_time)",
        _ => "DISTSTYLE ALL",
    }
}

mod templates {
    pub const CREATE_SCHEMA: &str = include_str!("../../../sql/postgres/create_schema.sql");
    pub const SEARCH_PATH: &str = include_str!("../../../sql/postgres/search_path.sql");
    pub const CREATE_TABLE: &str = include_str!("../../../sql/postgres/create_table.sql");
    pub const DROP_TABLE: &str = include_str!("../../../sql/postgres/drop_table.sql");
    pub const LOCK_TABLE: &str = include_str!("../../../sql/postgres/lock_table.sql");
    pub const CREATE_STAGE: &str = include_str!("../../../sql/postgres/create_stage.sql");
    pub const COPY_STAGE: &str = include_str!("../../../sql/postgres/copy_stage.sql");
    pub const COUNT_STAGE: &str = include_str!("../../../sql/postgres/count_stage.sql");
    pub const ANALYZE_STAGE: &str = include_str!("../../../sql/postgres/analyze_stage.sql");
    pub const DELETE_ALL: &str = include_str!("../../../sql/postgres/delete_all.sql");
    pub const DELETE_MATCHING: &str = include_str!("../../../sql/postgres/delete_matching.sql");
    pub const DELETE_OLDER: &str = include_str!("../../../sql/postgres/delete_older.sql");
    pub const INSERT_ALL: &str = include_str!("../../../sql/postgres/insert_all.sql");
    pub const INSERT_MISSING: &str = include_str!("../../../sql/postgres/insert_missing.sql");
    pub const DELETE_RANGE: &str = include_str!("../../../sql/postgres/delete_range.sql");
    pub const INSERT_RANGE: &str = include_str!("../../../sql/postgres/insert_range.sql");

    pub const RS_CREATE_TABLE: &str = include_str!("../../../sql/redshift/create_table.sql");
    pub const RS_LOCK_TABLE: &str = include_str!("../../../sql/redshift/lock_table.sql");
    pub const RS_CREATE_STAGE: &str = include_str!("../../../sql/redshift/create_stage.sql");
    pub const RS_DROP_STAGE: &str = include_str!("../../../sql/redshift/drop_stage.sql");
    pub const RS_COPY_PARQUET: &str = include_str!("../../../sql/redshift/copy_parquet.sql");
    pub const RS_LAST_COPY_COUNT: &str = include_str!("../../../sql/redshift/last_copy_count.sql");
    pub const RS_LOAD_ERRORS: &str = include_str!("../../../sql/redshift/load_errors.sql");
    pub const RS_STL_LOAD_ERRORS: &str = include_str!("../../../sql/redshift/stl_load_errors.sql");
    pub const RS_S3_LOG: &str = include_str!("../../../sql/redshift/s3_log.sql");
    pub const RS_EXTERNAL_QUERY_ERRORS: &str =
        include_str!("../../../sql/redshift/external_query_errors.sql");
}

/// Renders statements for one dialect and an optional schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sql {
    dialect: Dialect,
    schema: Option<Ident>,
    /// `SET` statements a session starts with (time limits); empty from [`Sql::new`].
    setup: Vec<String>,
}

impl Sql {
    /// A renderer for `dialect`; tables are qualified with `schema` when given.
    pub fn new(dialect: Dialect, schema: Option<Ident>) -> Sql {
        Sql {
            dialect,
            schema,
            setup: Vec::new(),
        }
    }

    /// A renderer for `dialect` with the schema and time limits of `session`: plans start with
    /// its `SET` statements.
    pub fn for_session(dialect: Dialect, session: &SessionSettings) -> Sql {
        Sql {
            dialect,
            schema: session.schema.clone(),
            setup: session.set_statements(dialect),
        }
    }

    /// The `SET` statements a session starts with (none for [`Sql::new`]).
    pub fn setup(&self) -> &[String] {
        &self.setup
    }

    /// `SET search_path TO <schema>` when a schema is set: unqualified names in analytics and
    /// ad-hoc queries then resolve in that schema only, never in `public`.
    pub fn search_path(&self) -> Option<String> {
        self.schema
            .as_ref()
            .map(|s| render(templates::SEARCH_PATH, &[("schema", s.as_str())]))
    }

    /// The dialect rendered for.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The schema tables are qualified with, if any.
    pub fn schema(&self) -> Option<&Ident> {
        self.schema.as_ref()
    }

    /// The table name as written in statements: `schema.table` or `table`.
    pub fn qualified(&self, table: &Table) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", table.name),
            None => table.name.to_owned(),
        }
    }

    /// The name of a table's temporary stage table (unqualified: temporary tables live in the
    /// session's own schema, which is searched first).
    pub fn stage_name(table: &Table) -> String {
        format!("stage_{}", table.name)
    }

    fn vars(&self, table: &Table) -> Vars {
        let qualified = self.qualified(table);
        let stage = Sql::stage_name(table);
        let key_match = table
            .key()
            .iter()
            .map(|c| format!("{t}.{n} = {stage}.{n}", t = table.name, n = c.name))
            .collect::<Vec<_>>()
            .join("\n  AND ");
        let stage_columns = table
            .columns
            .iter()
            .map(|c| format!("{stage}.{}", c.name))
            .collect::<Vec<_>>()
            .join(", ");
        // Both dialects spell the schema's types the same way. PostgreSQL's VARCHAR(n) counts
        // characters where Redshift counts bytes; as n bytes never exceed n characters, values cut
        // to Redshift's widths always fit PostgreSQL too.
        let column_defs = table
            .columns
            .iter()
            .map(|c| {
                let null = if c.nullable { "" } else { " NOT NULL" };
                format!("    {} {}{null}", c.name, c.ty.sql_type())
            })
            .collect::<Vec<_>>()
            .join(",\n");
        let key_columns = table
            .key()
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ");
        Vars {
            schema: self
                .schema
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            name: table.name,
            table: qualified,
            stage,
            columns: table.column_list(),
            stage_columns,
            column_defs,
            key_columns,
            key_match,
            version: version_column(table).unwrap_or_default().to_owned(),
            table_attributes: match self.dialect {
                Dialect::Postgres => String::new(),
                Dialect::Redshift => redshift_table_attributes(table).to_owned(),
            },
            range_column: String::new(),
            since: String::new(),
            until: String::new(),
        }
    }

    fn fill(&self, template: &str, table: &Table) -> String {
        self.vars(table).fill(template)
    }

    /// `CREATE SCHEMA IF NOT EXISTS`, when a schema is set.
    pub fn create_schema(&self) -> Option<String> {
        self.schema
            .as_ref()
            .map(|s| render(templates::CREATE_SCHEMA, &[("schema", s.as_str())]))
    }

    /// `CREATE TABLE IF NOT EXISTS` with primary key (and Redshift distribution and sort keys).
    pub fn create_table(&self, table: &Table) -> String {
        let template = match self.dialect {
            Dialect::Postgres => templates::CREATE_TABLE,
            Dialect::Redshift => templates::RS_CREATE_TABLE,
        };
        self.fill(template, table)
    }

    /// The schema (if set) and every table, dimensions first.
    pub fn create_tables(&self) -> Vec<String> {
        let mut v: Vec<String> = self.create_schema().into_iter().collect();
        v.extend(TABLES.iter().map(|t| self.create_table(t)));
        v
    }

    /// One `LOCK` of every table in `tables`, taken at the start of a transaction.
    pub fn lock_tables(&self, tables: &[&Table]) -> String {
        let names: Vec<String> = tables.iter().map(|t| self.qualified(t)).collect();
        let template = match self.dialect {
            Dialect::Postgres => templates::LOCK_TABLE,
            Dialect::Redshift => templates::RS_LOCK_TABLE,
        };
        render(template, &[("table", &names.join(", "))])
    }

    /// `DROP TABLE IF EXISTS`.
    pub fn drop_table(&self, table: &Table) -> String {
        self.fill(templates::DROP_TABLE, table)
    }

    /// Every table, the fact table first. The schema itself is left alone.
    pub fn drop_tables(&self) -> Vec<String> {
        TABLES.iter().rev().map(|t| self.drop_table(t)).collect()
    }
}

/// The values a template may refer to.
struct Vars {
    schema: String,
    name: &'static str,
    table: String,
    stage: String,
    columns: String,
    stage_columns: String,
    column_defs: String,
    key_columns: String,
    key_match: String,
    version: String,
    table_attributes: String,
    /// The column a window replace selects rows by, and the range's ends as literals (empty
    /// outside a window replace).
    range_column: String,
    since: String,
    until: String,
}

impl Vars {
    fn fill(&self, template: &str) -> String {
        render(
            template,
            &[
                ("schema", &self.schema),
                ("name", self.name),
                ("table", &self.table),
                ("stage", &self.stage),
                ("columns", &self.columns),
                ("stage_columns", &self.stage_columns),
                ("column_defs", &self.column_defs),
                ("key_columns", &self.key_columns),
                ("key_match", &self.key_match),
                ("version", &self.version),
                ("table_attributes", &self.table_attributes),
                ("range_column", &self.range_column),
                ("since", &self.since),
                ("until", &self.until),
            ],
        )
    }
}

/// Strips the trailing `;` and whitespace, for APIs that take exactly one statement.
pub fn statement_body(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';').trim_end()
}

#[cfg(test)]
mod tests;
