//! A recording fake of a Redshift session, for driving the Redshift loader without a cluster.
//!
//! [`FakeRedshift`] implements the loader's `Executor`: it records every statement and answers
//! the statement shapes the loader issues the way Redshift would, on in-memory tables:
//!
//! - `COPY t (cols) FROM 's3://…' IAM_ROLE '…' FORMAT AS PARQUET MANIFEST` reads the manifest and
//!   the Parquet files it lists from the in-process S3 server's folder, checks every entry's
//!   `content_length`, the file's columns (by position, as Redshift maps them) and rejects the
//!   options Parquet COPY does not support; `SELECT pg_last_copy_count()` answers its row count.
//! - `DELETE … USING … WHERE a.x = b.x [AND a.v <= b.v]` and `INSERT … SELECT … [WHERE NOT
//!   EXISTS (…)]` evaluate their conditions on the rows.
//! - `BEGIN`/`COMMIT`/`ROLLBACK` snapshot and restore every table; after an error inside a
//!   transaction every statement but `ROLLBACK` fails with SQLSTATE 25P02, as on Redshift.
//! - It can be told to fail a COPY (and then answers the load-error queries), to load one row
//!   fewer than the files hold (a silent partial load), or to lack `sys_load_error_detail`.
//!
//! Any other statement is an error, so a loader change the fake does not know fails loudly.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sparkify::schema::Table;
use sparkify::warehouse::redshift::{Executor, Reply, ServerError};

use super::rows::{batch_rows, Rows, V};

type Tables = BTreeMap<String, Rows>;

/// The fake session. Tables are keyed by the name statements use (`users`, `dwh.users`,
/// `stage_users`).
#[derive(Debug)]
pub struct FakeRedshift {
    /// Every statement received, in order, exactly as sent.
    pub log: Vec<String>,
    /// The folder of the in-process S3 server: `<root>/<bucket>/<key>`.
    s3_root: PathBuf,
    tables: Tables,
    temp: Tables,
    snapshot: Option<(Tables, Tables)>,
    aborted: bool,
    last_copy: i64,
    /// Fails the COPY into this table (as named in the statement).
    pub fail_copy: Option<String>,
    /// Loads one row fewer than the files hold into this table and reports that count.
    pub short_copy: Option<String>,
    /// Whether `sys_load_error_detail` exists (else only `stl_load_errors` answers).
    pub has_sys_view: bool,
    /// The rows the load-error queries answer after a failed COPY.
    pub load_errors: Vec<Vec<Option<String>>>,
    /// Loses the connection during the next `COMMIT` (an error without SQLSTATE), after
    /// committing (`Some(true)`) or before (`Some(false)`).
    pub lose_commit: Option<bool>,
}

fn err(code: &str, message: impl Into<String>) -> ServerError {
    ServerError {
        code: Some(code.to_owned()),
        message: format!("ERROR: {} (SQLSTATE {code})", message.into()),
    }
}

/// The star-schema table behind a statement's table name (`dwh.users`, `stage_users`).
fn schema_table(name: &str) -> Result<&'static Table, ServerError> {
    let base = name.rsplit('.').next().unwrap_or(name);
    let base = base.strip_prefix("stage_").unwrap_or(base);
    Table::by_name(base).ok_or_else(|| err("42P01", format!("relation \"{name}\" does not exist")))
}

/// `s` with runs of whitespace collapsed to one space and the final `;` removed.
fn normalize(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.trim_end_matches(';').trim_end().to_owned()
}

/// Splits `text` at the first `sep`.
fn cut<'a>(text: &'a str, sep: &str) -> Result<(&'a str, &'a str), ServerError> {
    text.split_once(sep).ok_or_else(|| {
        err(
            "42601",
            format!("syntax error: expected {sep:?} in {text:?}"),
        )
    })
}

/// A WHERE clause `t.c = s.c [AND t.v <= s.v]` between a target table `t` and a source `s`,
/// compiled to column positions: rows match when every equality and every comparison holds.
struct Join {
    /// (target column, source column) pairs that must be equal (and not NULL).
    eq: Vec<(usize, usize)>,
    /// (target column, source column) pairs with target <= source.
    le: Vec<(usize, usize)>,
}

impl Join {
    fn parse(clause: &str, table: &Table, target: &str, source: &str) -> Result<Join, ServerError> {
        let column = |qualified: &str| -> Result<(bool, usize), ServerError> {
            let (t, c) = qualified
                .rsplit_once('.')
                .ok_or_else(|| err("42601", format!("unqualified column {qualified}")))?;
            let i = table
                .columns
                .iter()
                .position(|x| x.name == c)
                .ok_or_else(|| err("42703", format!("column {qualified} does not exist")))?;
            match t {
                _ if t == target => Ok((true, i)),
                _ if t == source => Ok((false, i)),
                _ => Err(err("42P01", format!("missing FROM-clause entry for {t}"))),
            }
        };
        let mut join = Join {
            eq: vec![],
            le: vec![],
        };
        for c in clause.split(" AND ") {
            let parts: Vec<&str> = c.split(' ').collect();
            let [l, op, r] = parts.as_slice() else {
                return Err(err("42601", format!("fake: unsupported condition {c:?}")));
            };
            let (pair, flipped) = match (column(l)?, column(r)?) {
                ((true, a), (false, b)) => ((a, b), false),
                ((false, a), (true, b)) => ((b, a), true),
                _ => {
                    return Err(err(
                        "42601",
                        format!("fake: condition {c:?} joins a table to itself"),
                    ))
                }
            };
            match (*op, flipped) {
                ("=", _) => join.eq.push(pair),
                ("<=", false) => join.le.push(pair),
                _ => return Err(err("42601", format!("fake: unsupported condition {c:?}"))),
            }
        }
        Ok(join)
    }

    fn key(row: &[V], columns: impl Iterator<Item = usize>) -> Option<String> {
        let mut key = String::new();
        for i in columns {
            if row[i] == V::Null {
                return None;
            }
            key.push_str(&format!("{:?}|", row[i]));
        }
        Some(key)
    }

    /// For each target row, whether some source row matches it.
    fn target_hits(&self, targets: &Rows, sources: &Rows) -> Vec<bool> {
        let mut index: BTreeMap<String, Vec<&Vec<V>>> = BTreeMap::new();
        for s in sources {
            if let Some(k) = Join::key(s, self.eq.iter().map(|p| p.1)) {
                index.entry(k).or_default().push(s);
            }
        }
        targets
            .iter()
            .map(|t| {
                Join::key(t, self.eq.iter().map(|p| p.0))
                    .and_then(|k| index.get(&k))
                    .is_some_and(|candidates| {
                        candidates.iter().any(|s| {
                            self.le
                                .iter()
                                .all(|&(a, b)| t[a] != V::Null && s[b] != V::Null && t[a] <= s[b])
                        })
                    })
            })
            .collect()
    }
}

impl FakeRedshift {
    /// A fresh session over the S3 server folder `s3_root`.
    pub fn new(s3_root: impl Into<PathBuf>) -> Self {
        Self {
            log: Vec::new(),
            s3_root: s3_root.into(),
            tables: Tables::new(),
            temp: Tables::new(),
            snapshot: None,
            aborted: false,
            last_copy: -1,
            fail_copy: None,
            short_copy: None,
            has_sys_view: true,
            load_errors: Vec::new(),
            lose_commit: None,
        }
    }

    /// The rows of a permanent table, sorted by key; `None` when it does not exist.
    pub fn table(&self, name: &str) -> Option<Rows> {
        let mut rows = self.tables.get(name)?.clone();
        super::rows::sort_rows(&mut rows);
        Some(rows)
    }

    /// Every permanent table's rows, sorted.
    pub fn all_tables(&self) -> BTreeMap<String, Rows> {
        self.tables
            .keys()
            .map(|k| (k.clone(), self.table(k).unwrap_or_default()))
            .collect()
    }

    /// The statements received, each trimmed and ending in a newline (the golden-file format).
    pub fn script(&self) -> String {
        self.log
            .iter()
            .map(|s| format!("{}\n", s.trim_end()))
            .collect()
    }

    fn in_transaction(&self) -> bool {
        self.snapshot.is_some()
    }

    fn get_mut(&mut self, name: &str) -> Result<&mut Rows, ServerError> {
        if self.temp.contains_key(name) {
            return Ok(self.temp.get_mut(name).unwrap());
        }
        self.tables
            .get_mut(name)
            .ok_or_else(|| err("42P01", format!("relation \"{name}\" does not exist")))
    }

    fn get(&self, name: &str) -> Result<&Rows, ServerError> {
        self.temp
            .get(name)
            .or_else(|| self.tables.get(name))
            .ok_or_else(|| err("42P01", format!("relation \"{name}\" does not exist")))
    }

    fn answer(&mut self, sql: &str) -> Result<Reply, ServerError> {
        let s = normalize(sql);
        let ok = |affected: u64| {
            Ok(Reply {
                rows: vec![],
                affected,
            })
        };
        match s.as_str() {
            "BEGIN" if self.in_transaction() => {
                return Err(err("25001", "fake: BEGIN inside a transaction"))
            }
            "BEGIN" => {
                self.snapshot = Some((self.tables.clone(), self.temp.clone()));
                return ok(0);
            }
            "COMMIT" | "ROLLBACK" => {
                let snapshot = self
                    .snapshot
                    .take()
                    .ok_or_else(|| err("25P01", format!("fake: {s} outside a transaction")))?;
                let lost = if s == "COMMIT" {
                    self.lose_commit.take()
                } else {
                    None
                };
                if s == "ROLLBACK" || self.aborted || lost == Some(false) {
                    (self.tables, self.temp) = snapshot;
                }
                self.aborted = false;
                if lost.is_some() {
                    return Err(ServerError {
                        code: None,
                        message: "connection closed".into(),
                    });
                }
                return ok(0);
            }
            _ => {}
        }
        if self.aborted {
            return Err(err(
                "25P02",
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        if let Some(name) = s.strip_prefix("LOCK ") {
            if !self.in_transaction() {
                return Err(err(
                    "25P01",
                    "fake: LOCK outside a transaction has no effect",
                ));
            }
            self.get(name)?;
            return ok(0);
        }
        if s.starts_with("CREATE SCHEMA IF NOT EXISTS ") {
            return ok(0);
        }
        if let Some(rest) = s.strip_prefix("CREATE TABLE IF NOT EXISTS ") {
            let (name, _) = cut(rest, " (")?;
            schema_table(name)?;
            self.tables.entry(name.to_owned()).or_default();
            return ok(0);
        }
        if let Some(name) = s.strip_prefix("DROP TABLE IF EXISTS ") {
            if self.temp.remove(name).is_none() {
                self.tables.remove(name);
            }
            return ok(0);
        }
        if let Some(name) = s.strip_prefix("DROP TABLE ") {
            // A temporary table shadows a permanent one of the same name.
            if self.temp.remove(name).is_none() && self.tables.remove(name).is_none() {
                return Err(err("42P01", format!("table \"{name}\" does not exist")));
            }
            return ok(0);
        }
        if let Some(rest) = s.strip_prefix("CREATE TEMP TABLE ") {
            let (stage, like) = cut(rest, " (LIKE ")?;
            let like = like.strip_suffix(')').unwrap_or(like);
            if schema_table(stage)?.name != schema_table(like)?.name {
                return Err(err("42601", "fake: stage shaped like another table"));
            }
            if !self.tables.contains_key(like) {
                return Err(err("42P01", format!("relation \"{like}\" does not exist")));
            }
            if self.temp.contains_key(stage) {
                return Err(err("42P07", format!("relation \"{stage}\" already exists")));
            }
            self.temp.insert(stage.to_owned(), Rows::new());
            return ok(0);
        }
        if let Some(rest) = s.strip_prefix("COPY ") {
            return self.copy(rest).map(|n| Reply {
                rows: vec![],
                affected: n,
            });
        }
        if s == "SELECT pg_last_copy_count()" {
            return Ok(Reply {
                rows: vec![vec![Some(self.last_copy.to_string())]],
                affected: 1,
            });
        }
        if s.starts_with("SET statement_timeout TO ") {
            return ok(0);
        }
        if s.contains("FROM information_schema.columns") {
            return ok(0);
        }
        if s.contains("FROM svl_s3log") || s.contains("FROM sys_external_query_error") {
            return ok(0);
        }
        if s.contains("FROM sys_load_error_detail") || s.contains("FROM stl_load_errors") {
            if s.contains("sys_load_error_detail") && !self.has_sys_view {
                return Err(err(
                    "42P01",
                    "relation \"sys_load_error_detail\" does not exist",
                ));
            }
            return Ok(Reply {
                rows: self.load_errors.clone(),
                affected: self.load_errors.len() as u64,
            });
        }
        if let Some(rest) = s.strip_prefix("DELETE FROM ") {
            return self.delete(rest).map(|n| Reply {
                rows: vec![],
                affected: n,
            });
        }
        if let Some(rest) = s.strip_prefix("INSERT INTO ") {
            return self.insert(rest).map(|n| Reply {
                rows: vec![],
                affected: n,
            });
        }
        Err(err(
            "42601",
            format!("fake Redshift: unsupported statement {s:?}"),
        ))
    }

    fn copy(&mut self, rest: &str) -> Result<u64, ServerError> {
        let (into, rest) = cut(rest, " (")?;
        let (columns, rest) = cut(rest, ") FROM '")?;
        let (url, rest) = cut(rest, "' IAM_ROLE '")?;
        let (_role, options) = cut(rest, "' ")?;
        let table = schema_table(into)?;
        if columns != table.column_list() {
            return Err(err("42601", format!("fake: COPY column list {columns:?}")));
        }
        for option in options.split(' ') {
            if !["FORMAT", "AS", "PARQUET", "MANIFEST"].contains(&option) {
                return Err(err(
                    "0A000",
                    format!("{option} argument is not supported for PARQUET based COPY"),
                ));
            }
        }
        if options != "FORMAT AS PARQUET MANIFEST" {
            return Err(err("42601", format!("fake: COPY options {options:?}")));
        }
        self.get(into)?;
        if self.fail_copy.as_deref() == Some(into) {
            return Err(err(
                "XX000",
                format!(
                    "Load into table '{into}' failed.  Check 'sys_load_error_detail' system \
                     table for details."
                ),
            ));
        }
        let mut rows = self.read_manifest(url, table)?;
        if self.short_copy.as_deref() == Some(into) {
            rows.pop();
        }
        let n = rows.len();
        self.get_mut(into)?.extend(rows);
        self.last_copy = n as i64;
        Ok(n as u64)
    }

    fn object(&self, url: &str) -> Result<PathBuf, ServerError> {
        let key = url
            .strip_prefix("s3://")
            .ok_or_else(|| err("XX000", format!("not an S3 URL: {url}")))?;
        Ok(self.s3_root.join(key))
    }

    /// The rows of every file the manifest at `url` lists, checked like Spectrum checks them.
    fn read_manifest(&self, url: &str, table: &Table) -> Result<Rows, ServerError> {
        let bytes = std::fs::read(self.object(url)?)
            .map_err(|_| err("XX000", format!("Manifest file is not found: {url}")))?;
        let manifest: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| err("XX000", format!("Invalid manifest {url}: {e}")))?;
        let entries = manifest["entries"]
            .as_array()
            .ok_or_else(|| err("XX000", format!("Invalid manifest {url}: no entries")))?;
        let mut out = Rows::new();
        for e in entries {
            let file_url = e["url"].as_str().unwrap_or_default();
            if file_url
                .strip_prefix("s3://")
                .unwrap_or(file_url)
                .contains("//")
            {
                return Err(err(
                    "XX000",
                    format!("Spectrum Scan Error: File not found: {file_url}"),
                ));
            }
            let path = self.object(file_url)?;
            let Ok(data) = std::fs::read(&path) else {
                return Err(err(
                    "XX000",
                    format!("Spectrum Scan Error: File not found: {file_url}"),
                ));
            };
            if e["meta"]["content_length"].as_u64() != Some(data.len() as u64) {
                return Err(err(
                    "XX000",
                    format!(
                        "Spectrum Scan Error: content_length of {file_url} differs from the object"
                    ),
                ));
            }
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(data))
                .map_err(|e| err("XX000", format!("Spectrum Scan Error: {file_url}: {e}")))?;
            if reader.schema().fields() != table.arrow_schema().fields() {
                return Err(err(
                    "XX000",
                    format!("Spectrum Scan Error: {file_url} has an incompatible Parquet schema"),
                ));
            }
            for batch in reader.build().map_err(|e| err("XX000", e.to_string()))? {
                let batch = batch.map_err(|e| err("XX000", e.to_string()))?;
                out.extend(batch_rows(&batch, table));
            }
        }
        Ok(out)
    }

    fn delete(&mut self, rest: &str) -> Result<u64, ServerError> {
        let Some((target, rest)) = rest.split_once(" USING ") else {
            let rows = self.get_mut(rest)?;
            let n = rows.len() as u64;
            rows.clear();
            return Ok(n);
        };
        let (source, clause) = cut(rest, " WHERE ")?;
        let join = Join::parse(clause, schema_table(target)?, target, source)?;
        let staged = self.get(source)?.clone();
        let rows = std::mem::take(self.get_mut(target)?);
        let hits = join.target_hits(&rows, &staged);
        let deleted = hits.iter().filter(|h| **h).count() as u64;
        *self.get_mut(target)? = rows
            .into_iter()
            .zip(hits)
            .filter_map(|(row, hit)| (!hit).then_some(row))
            .collect();
        Ok(deleted)
    }

    fn insert(&mut self, rest: &str) -> Result<u64, ServerError> {
        let (target, rest) = cut(rest, " (")?;
        let (columns, rest) = cut(rest, ") SELECT ")?;
        let (_select, rest) = cut(rest, " FROM ")?;
        let table = schema_table(target)?;
        if columns != table.column_list() {
            return Err(err(
                "42601",
                format!("fake: INSERT column list {columns:?}"),
            ));
        }
        let (source, filter) = match rest.split_once(" WHERE NOT EXISTS ( SELECT 1 FROM ") {
            Some((source, inner)) => {
                let (inner_table, clause) = cut(inner, " WHERE ")?;
                let clause = clause.strip_suffix(" )").unwrap_or(clause);
                if inner_table != target {
                    return Err(err("42601", "fake: NOT EXISTS over another table"));
                }
                (source, Some(Join::parse(clause, table, target, source)?))
            }
            None => (rest, None),
        };
        let staged = self.get(source)?.clone();
        // A staged row is blocked when some target row matches it: the join seen from the
        // staged side, with the roles of the columns swapped.
        let blocked = match filter {
            Some(join) => {
                let swapped = Join {
                    eq: join.eq.iter().map(|&(a, b)| (b, a)).collect(),
                    le: Vec::new(),
                };
                if !join.le.is_empty() {
                    return Err(err("42601", "fake: comparison inside NOT EXISTS"));
                }
                swapped.target_hits(&staged, self.get(target)?)
            }
            None => vec![false; staged.len()],
        };
        let new_rows: Rows = staged
            .into_iter()
            .zip(blocked)
            .filter_map(|(row, blocked)| (!blocked).then_some(row))
            .collect();
        let n = new_rows.len() as u64;
        self.get_mut(target)?.extend(new_rows);
        Ok(n)
    }
}

impl Executor for FakeRedshift {
    async fn run(&mut self, sql: &str) -> Result<Reply, ServerError> {
        self.log.push(sql.to_owned());
        let result = self.answer(sql);
        if result.is_err() && self.in_transaction() {
            self.aborted = true;
        }
        result
    }
}
