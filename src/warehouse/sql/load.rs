//! Load statements: how staged rows replace or merge into the final tables ([`WriteMode`]), as
//! one PostgreSQL load runs them ([`LoadStatements`]) and as a Redshift load runs them
//! ([`RedshiftLoad`]).

use std::fmt;

use super::{templates, Dialect, IamRole, InvalidLiteral, S3Url, Sql};
use crate::schema::Table;
use crate::warehouse::literal::Timestamp;
use crate::warehouse::template::render;

/// How a load combines the staged rows with what the warehouse already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteMode {
    /// Every loaded table ends up holding exactly the staged rows.
    Replace,
    /// Staged rows are upserted by primary key; rows not staged are kept. For a table with a version
    /// column (`users.level_at`) the newer row wins, whichever side it is on.
    Merge,
    /// The event tables (`songplays`, `time`) lose their rows whose `start_time` lies in the range
    /// and get the staged rows that lie in it; the other tables merge as with [`WriteMode::Merge`].
    /// Reloading one corrected day thus removes the plays that disappeared from it.
    ReplaceWindow(StartRange),
}

impl WriteMode {
    /// Whether a table given with no rows must still be written: a replace empties it, a window
    /// replace empties the table's range; a merge of nothing changes nothing.
    pub fn clears(&self, table: &Table) -> bool {
        match self {
            WriteMode::Replace => true,
            WriteMode::Merge => false,
            WriteMode::ReplaceWindow(_) => range_column(table).is_some(),
        }
    }

    /// Whether a Redshift load copies into temporary stage tables (and inserts from them), rather
    /// than straight into the final tables.
    pub fn stages(&self) -> bool {
        !matches!(self, WriteMode::Replace)
    }
}

impl fmt::Display for WriteMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WriteMode::Replace => "replace",
            WriteMode::Merge => "merge",
            WriteMode::ReplaceWindow(_) => "replace-window",
        })
    }
}

/// Tables whose merge keeps the newer row by a timestamp column instead of always taking the staged
/// row: a user's `level` comes from their latest event, so loading days out of order must not let
/// an older day overwrite a newer level.
pub(super) const VERSION_COLUMNS: &[(&str, &str)] = &[("users", "level_at")];

/// The column that decides which of two rows with the same key is newer, if the table has one.
pub fn version_column(table: &Table) -> Option<&'static str> {
    VERSION_COLUMNS
        .iter()
        .find(|(t, _)| *t == table.name)
        .map(|(_, c)| *c)
}

/// Tables a window replace clears by range, with the column the range applies to: the fact table
/// and `time`, whose rows are one per play and per play time. Dimensions merge.
pub(super) const RANGE_COLUMNS: &[(&str, &str)] =
    &[("songplays", "start_time"), ("time", "start_time")];

/// The column a window replace selects `table`'s rows by, if the table is replaced by range.
pub fn range_column(table: &Table) -> Option<&'static str> {
    RANGE_COLUMNS
        .iter()
        .find(|(t, _)| *t == table.name)
        .map(|(_, c)| *c)
}

/// The half-open range of `start_time` a window replace clears and refills: `[since, until)`, both
/// ends validated instants, `since` before `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StartRange {
    since: Timestamp,
    until: Timestamp,
}

impl StartRange {
    /// `[since, until)` in milliseconds since 1970-01-01 UTC.
    pub fn new(since: i64, until: i64) -> Result<StartRange, InvalidLiteral> {
        let (since, until) = (
            Timestamp::from_millis(since)?,
            Timestamp::from_millis(until)?,
        );
        if since >= until {
            return Err(InvalidLiteral::Timestamp {
                millis: until.millis(),
                reason: "the end of a replaced range must come after its start",
            });
        }
        Ok(StartRange { since, until })
    }

    /// The first instant of the range.
    pub fn since(&self) -> Timestamp {
        self.since
    }

    /// The first instant after the range.
    pub fn until(&self) -> Timestamp {
        self.until
    }
}

impl fmt::Display for StartRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.since, self.until)
    }
}

/// The statements one load runs for one table, in order. Each is a single statement ending in `;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadStatements {
    /// Locks the target against concurrent writers for the rest of the transaction. PostgreSQL's
    /// lock lets readers go on; Redshift's `LOCK` makes them wait for the transaction too.
    pub lock: String,
    /// Creates the temporary stage table shaped like the target.
    pub create_stage: String,
    /// `COPY … FROM STDIN (FORMAT binary)` into the stage (PostgreSQL only: Redshift copies from S3).
    pub copy: Option<String>,
    /// Counts the staged rows.
    pub count_stage: String,
    /// Gathers planner statistics on the stage, so the delete and insert joins get good plans.
    pub analyze_stage: String,
    /// Removes the target rows the staged rows replace.
    pub delete: String,
    /// Inserts the staged rows that should be in the target.
    pub insert: String,
}

impl LoadStatements {
    /// All statements in execution order.
    pub fn all(&self) -> Vec<&str> {
        let mut v = vec![self.lock.as_str(), &self.create_stage];
        v.extend(self.copy.as_deref());
        v.push(&self.count_stage);
        v.push(&self.analyze_stage);
        v.push(&self.delete);
        v.push(&self.insert);
        v
    }
}

/// The statements a Redshift load runs for one table (see [`Sql::redshift_load`]).
///
/// A merge copies into a temporary stage table before the transaction, then deletes and inserts
/// inside it; a replace deletes every row and copies straight into the table inside the
/// transaction. Each string is a single statement ending in `;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedshiftLoad {
    /// Merge and window replace, before the transaction: creates the stage `(LIKE target)`. There is no
    /// `DROP TABLE IF EXISTS` ahead of it: with no temporary table of that name in the session, it
    /// would drop a permanent table of the same name.
    pub create_stage: Option<String>,
    /// Locks the target at the start of the transaction.
    pub lock: String,
    /// Replace: `DELETE FROM target` ahead of the COPY. Merge: deletes the target rows that staged
    /// rows replace (for `users`, only those not newer than the staged row). Window replace: the
    /// event tables' rows in the range, the others as merge.
    pub delete: String,
    /// `COPY … FROM '<manifest>' IAM_ROLE '<arn>' FORMAT AS PARQUET MANIFEST`, into the stage
    /// (merge) or straight into the target (replace).
    pub copy: String,
    /// `SELECT pg_last_copy_count();`: the rows the COPY loaded, checked against the rows written.
    pub copy_count: String,
    /// Merge and window replace: inserts the staged rows that belong in the target.
    pub insert: Option<String>,
    /// Merge and window replace, once the load is over (committed or not): drops the stage this session
    /// created, which shadows any permanent table of that name.
    pub drop_stage: Option<String>,
}

impl RedshiftLoad {
    /// The table's statements in the order a load of this table alone would run them.
    pub fn all(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.create_stage.iter().map(String::as_str).collect();
        if self.insert.is_some() {
            v.extend([
                self.copy.as_str(),
                &self.copy_count,
                &self.lock,
                &self.delete,
            ]);
        } else {
            v.extend([
                self.lock.as_str(),
                &self.delete,
                &self.copy,
                &self.copy_count,
            ]);
        }
        v.extend(self.insert.as_deref());
        v.extend(self.drop_stage.as_deref());
        v
    }
}

/// The queries that explain a failed Redshift COPY of this session (by `pg_backend_pid()`, which
/// a `ROLLBACK` leaves in place, unlike `pg_last_copy_id()`), newest rows first: the
/// `sys_load_error_detail` view, the older `stl_load_errors` table, then `svl_s3log` and
/// `sys_external_query_error` (Serverless has only the SYS views), where Parquet (Spectrum) read
/// errors go. All return rows of (file, line, column, column type, error code, message).
pub fn load_error_queries() -> [&'static str; 4] {
    [
        templates::RS_LOAD_ERRORS,
        templates::RS_STL_LOAD_ERRORS,
        templates::RS_S3_LOG,
        templates::RS_EXTERNAL_QUERY_ERRORS,
    ]
}

impl Sql {
    /// The statements a load runs for `table` in `mode`.
    pub fn load_statements(&self, table: &Table, mode: WriteMode) -> LoadStatements {
        let (lock, create_stage) = match self.dialect {
            Dialect::Postgres => (templates::LOCK_TABLE, templates::CREATE_STAGE),
            Dialect::Redshift => (templates::RS_LOCK_TABLE, templates::RS_CREATE_STAGE),
        };
        let mut vars = self.vars(table);
        let range = match mode {
            WriteMode::ReplaceWindow(range) => range_column(table).map(|c| (range, c)),
            _ => None,
        };
        let (delete, insert) = match (mode, range, version_column(table)) {
            (WriteMode::Replace, _, _) => (templates::DELETE_ALL, templates::INSERT_ALL),
            // The range's rows go, and the staged rows in the range come in: a staged row outside
            // it (a `load` of a whole folder) is not this load's to write.
            (_, Some((range, column)), _) => {
                vars.range_column = column.to_owned();
                vars.since = range.since().literal();
                vars.until = range.until().literal();
                (templates::DELETE_RANGE, templates::INSERT_RANGE)
            }
            (_, None, None) => (templates::DELETE_MATCHING, templates::INSERT_ALL),
            // Delete the target rows that are older than (or as old as) their staged row, then
            // insert the staged rows whose key is no longer present: those are the new keys and
            // the newer rows. A target row newer than its staged row survives the delete and
            // blocks the older staged row from being inserted.
            (_, None, Some(_)) => (templates::DELETE_OLDER, templates::INSERT_MISSING),
        };
        LoadStatements {
            lock: vars.fill(lock),
            create_stage: vars.fill(create_stage),
            copy: match self.dialect {
                Dialect::Postgres => Some(vars.fill(templates::COPY_STAGE)),
                Dialect::Redshift => None,
            },
            count_stage: vars.fill(templates::COUNT_STAGE),
            analyze_stage: vars.fill(templates::ANALYZE_STAGE),
            delete: vars.fill(delete),
            insert: vars.fill(insert),
        }
    }

    /// The statements loading `table` into Redshift in `mode` from the Parquet files listed in
    /// `manifest`, read with `role`. Always rendered for Redshift, whatever the dialect of `self`.
    pub fn redshift_load(
        &self,
        table: &Table,
        mode: WriteMode,
        manifest: &S3Url,
        role: &IamRole,
    ) -> RedshiftLoad {
        let rs = Sql::new(Dialect::Redshift, self.schema.clone());
        let s = rs.load_statements(table, mode);
        let vars = rs.vars(table);
        let copy_into = |into: &str| {
            render(
                templates::RS_COPY_PARQUET,
                &[
                    ("into", into),
                    ("columns", &vars.columns),
                    ("manifest", &manifest.literal()),
                    ("iam_role", &role.literal()),
                ],
            )
        };
        let copy_count = templates::RS_LAST_COPY_COUNT.to_owned();
        match mode {
            WriteMode::Replace => RedshiftLoad {
                create_stage: None,
                lock: s.lock,
                delete: s.delete,
                copy: copy_into(&vars.table),
                copy_count,
                insert: None,
                drop_stage: None,
            },
            WriteMode::Merge | WriteMode::ReplaceWindow(_) => RedshiftLoad {
                create_stage: Some(s.create_stage),
                lock: s.lock,
                delete: s.delete,
                copy: copy_into(&vars.stage),
                copy_count,
                insert: Some(s.insert),
                drop_stage: Some(vars.fill(templates::RS_DROP_STAGE)),
            },
        }
    }
}
