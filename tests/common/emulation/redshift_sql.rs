//! The one place where Redshift-only functions, clauses and system views get their PostgreSQL
//! equivalents. Each entry cites the AWS documentation page whose behaviour it follows. COPY is
//! emulated separately (`copy.rs`, `parquet_copy.rs`, `json_copy.rs`), after the COPY pages.

use super::{redshift_error, Failure};

/// Created once per database, on the system connection. Everything lives in `emulation_sys`,
/// which statements reach only through the rewrites below, so no table of the test can clash.
pub const SETUP: &str = r#"
CREATE SCHEMA IF NOT EXISTS emulation_sys;

-- Raises an error with a given SQLSTATE, so that an emulated failure aborts the open
-- transaction exactly as a server error does.
CREATE OR REPLACE FUNCTION emulation_sys.raise(code text, message text) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message; END $$;

-- The load-error log. Redshift's system tables are written outside the session's transaction:
-- the emulator writes here from its second connection.
-- `spectrum` marks the errors of a Parquet COPY, which Redshift scans through Spectrum: they are
-- logged in SVL_S3LOG and SYS_EXTERNAL_QUERY_ERROR, not in STL_LOAD_ERRORS
-- (https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-columnar.html).
CREATE TABLE IF NOT EXISTS emulation_sys.load_errors (
    session_id integer, query bigint, start_time timestamp DEFAULT clock_timestamp(),
    file_name text, line_number bigint, column_name text, column_type text,
    error_code integer, error_message text, spectrum boolean
);

-- SYS_LOAD_ERROR_DETAIL (every COPY): https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_ERROR_DETAIL.html
CREATE OR REPLACE VIEW emulation_sys.sys_load_error_detail AS
SELECT session_id, query AS query_id, start_time, file_name, line_number, column_name,
       column_type, error_code, error_message
FROM emulation_sys.load_errors;

-- STL_LOAD_ERRORS (text and JSON COPY): https://docs.aws.amazon.com/redshift/latest/dg/r_STL_LOAD_ERRORS.html
CREATE OR REPLACE VIEW emulation_sys.stl_load_errors AS
SELECT session_id AS session, query, start_time AS starttime, file_name AS filename,
       line_number, column_name AS colname, column_type AS type, error_code AS err_code,
       error_message AS err_reason
FROM emulation_sys.load_errors WHERE NOT spectrum;

-- SVL_S3LOG (Spectrum scans): https://docs.aws.amazon.com/redshift/latest/dg/r_SVL_S3LOG.html
CREATE OR REPLACE VIEW emulation_sys.svl_s3log AS
SELECT session_id AS pid, query, 0 AS segment, 0 AS step, 0 AS node, 0 AS slice,
       start_time AS eventtime, error_message AS message
FROM emulation_sys.load_errors WHERE spectrum;

-- SYS_EXTERNAL_QUERY_ERROR (Spectrum scans):
-- https://docs.aws.amazon.com/redshift/latest/dg/SYS_EXTERNAL_QUERY_ERROR.html
CREATE OR REPLACE VIEW emulation_sys.sys_external_query_error AS
SELECT 100 AS user_id, query AS query_id, file_name AS file_location,
       '-1:0:' || line_number AS rowid, column_name, ''::text AS original_value,
       ''::text AS modified_value, 'UNSPECIFIED'::text AS trigger, 'ERROR'::text AS action,
       ''::text AS action_value, error_code
FROM emulation_sys.load_errors WHERE spectrum;

-- SYS_QUERY_HISTORY (the queries of each session; here, those that logged a load error):
-- https://docs.aws.amazon.com/redshift/latest/dg/SYS_QUERY_HISTORY.html
CREATE OR REPLACE VIEW emulation_sys.sys_query_history AS
SELECT DISTINCT session_id, query AS query_id FROM emulation_sys.load_errors;

-- SVV_COLUMNS (local tables): https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_COLUMNS.html
CREATE OR REPLACE VIEW emulation_sys.svv_columns AS
SELECT table_catalog, table_schema, table_name, column_name, ordinal_position, column_default,
       is_nullable, data_type, character_maximum_length, numeric_precision, numeric_scale
FROM information_schema.columns
WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'emulation_sys');

-- PG_TABLE_DEF: only tables visible on the search path, type as format_type prints it:
-- https://docs.aws.amazon.com/redshift/latest/dg/r_PG_TABLE_DEF.html
CREATE OR REPLACE VIEW emulation_sys.pg_table_def AS
SELECT n.nspname AS schemaname, c.relname AS tablename, a.attname AS "column",
       format_type(a.atttypid, a.atttypmod) AS type, 'none'::text AS encoding,
       false AS distkey, 0 AS sortkey, a.attnotnull AS notnull
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND pg_table_is_visible(c.oid);

-- STRTOL(num_string, base): https://docs.aws.amazon.com/redshift/latest/dg/r_STRTOL.html
CREATE OR REPLACE FUNCTION emulation_sys.strtol(num text, base integer) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    s text := lower(btrim(num));
    r numeric := 0;
    d integer;
    neg boolean := false;
BEGIN
    IF s LIKE '-%' THEN neg := true; s := substr(s, 2);
    ELSIF s LIKE '+%' THEN s := substr(s, 2); END IF;
    IF base = 16 AND s LIKE '0x%' THEN s := substr(s, 3); END IF;
    FOR i IN 1..length(s) LOOP
        d := strpos('0123456789abcdefghijklmnopqrstuvwxyz', substr(s, i, 1)) - 1;
        IF d < 0 OR d >= base THEN
            RAISE EXCEPTION USING ERRCODE = '22P02',
                MESSAGE = format('invalid input for STRTOL: %s in base %s', num, base);
        END IF;
        r := r * base + d;
    END LOOP;
    IF neg THEN r := -r; END IF;
    RETURN r::bigint;
END $$;
"#;

/// Session settings, as a Redshift session starts.
/// - Serializable isolation: https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html
/// - Sessions run in UTC: https://docs.aws.amazon.com/redshift/latest/dg/r_timezone_config.html
pub const SESSION: &str =
    "SET default_transaction_isolation = 'serializable'; SET TIME ZONE 'UTC';";

/// How the emulator runs a statement that is not a COPY.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Run this PostgreSQL text.
    Run(String),
    /// Commit the open transaction, then run this text.
    CommitFirst(String),
}

/// The PostgreSQL text for the normalized Redshift statement `s` (`upper` is `s` upper-cased).
pub fn to_postgres(
    s: &str,
    upper: &str,
    in_transaction: bool,
    last_copy_count: i64,
    last_copy_id: i64,
) -> Result<Plan, Failure> {
    // ALTER TABLE APPEND cannot run inside a transaction block:
    // https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE_APPEND.html
    if upper.starts_with("ALTER TABLE ") && upper.contains(" APPEND FROM ") {
        return Err(redshift_error(
            if in_transaction { "25001" } else { "0A000" },
            if in_transaction {
                "ALTER TABLE APPEND cannot run inside a transaction block"
            } else {
                "emulation: ALTER TABLE APPEND is not emulated"
            },
        ));
    }
    let text = rewrite(s, last_copy_count, last_copy_id);
    // TRUNCATE commits the open transaction first:
    // https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html
    if upper.starts_with("TRUNCATE ") && in_transaction {
        return Ok(Plan::CommitFirst(text));
    }
    Ok(Plan::Run(text))
}

/// Applies every rewrite to the code of `s` (string literals are left alone).
fn rewrite(s: &str, last_copy_count: i64, last_copy_id: i64) -> String {
    let mut out = String::new();
    for (i, part) in split_literals(s).into_iter().enumerate() {
        if i % 2 == 1 {
            out.push_str(part);
            continue;
        }
        let mut code = part.to_owned();
        // Table attributes PostgreSQL has no use for: distribution, sort keys, encodings, backup.
        // https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
        for (keyword, argument) in [
            ("DISTSTYLE", Arg::Word),
            ("COMPOUND", Arg::None),
            ("INTERLEAVED", Arg::None),
            ("SORTKEY", Arg::Parens),
            ("DISTKEY", Arg::Parens),
            ("ENCODE", Arg::Word),
            ("BACKUP", Arg::Word),
        ] {
            code = remove_keyword(&code, keyword, argument);
        }
        // Primary keys are informational only, never enforced:
        // https://docs.aws.amazon.com/redshift/latest/dg/t_Defining_constraints.html
        code = remove_primary_keys(&code);
        // IDENTITY(seed, step): https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
        code = replace_call(&code, "IDENTITY", |args| {
            let (seed, step) = args.split_once(',').unwrap_or((args, "1"));
            format!(
                "GENERATED BY DEFAULT AS IDENTITY (START WITH {} INCREMENT BY {})",
                seed.trim(),
                step.trim()
            )
        });
        // STRTOL: https://docs.aws.amazon.com/redshift/latest/dg/r_STRTOL.html
        code = replace_word(&code, "STRTOL", "emulation_sys.strtol");
        // DATE_PART/DATEPART with an unquoted date part (w, dw, …):
        // https://docs.aws.amazon.com/redshift/latest/dg/r_DATE_PART_function.html and
        // https://docs.aws.amazon.com/redshift/latest/dg/r_Dateparts_for_datetime_functions.html
        for name in ["DATE_PART", "DATEPART"] {
            code = replace_call_first_arg(&code, name, date_part);
        }
        // PG_LAST_COPY_COUNT / PG_LAST_COPY_ID are session state, not transactional:
        // https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_COUNT.html
        // https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_ID.html
        code = replace_call(&code, "pg_last_copy_count", |_| {
            format!("CAST({last_copy_count} AS BIGINT)")
        });
        code = replace_call(&code, "pg_last_copy_id", |_| {
            format!("CAST({last_copy_id} AS INTEGER)")
        });
        // System views (see SETUP for each page).
        for view in [
            "sys_load_error_detail",
            "stl_load_errors",
            "svl_s3log",
            "sys_external_query_error",
            "sys_query_history",
            "svv_columns",
            "pg_table_def",
        ] {
            code = replace_word(&code, view, &format!("emulation_sys.{view}"));
        }
        out.push_str(&code);
    }
    out
}

/// The PostgreSQL name of a Redshift date part, quoted.
fn date_part(part: &str) -> Option<String> {
    let pg = match part.to_ascii_lowercase().as_str() {
        "w" | "week" | "weeks" => "week",
        "d" | "day" | "days" => "day",
        "h" | "hr" | "hrs" | "hour" | "hours" => "hour",
        "m" | "min" | "mins" | "minute" | "minutes" => "minute",
        "s" | "sec" | "secs" | "second" | "seconds" => "second",
        "mon" | "mons" | "month" | "months" => "month",
        "y" | "yr" | "yrs" | "year" | "years" => "year",
        "dw" | "dow" | "dayofweek" | "weekday" => "dow",
        "dy" | "doy" | "dayofyear" | "yearday" => "doy",
        "qtr" | "qtrs" | "quarter" | "quarters" => "quarter",
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => "milliseconds",
        "epoch" => "epoch",
        _ => return None,
    };
    Some(format!("'{pg}'"))
}

/// `s` split at string literals: even items are code, odd items are literals with their quotes.
fn split_literals(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_string = false;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if in_string && bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            if in_string {
                parts.push(&s[start..=i]);
                start = i + 1;
            } else {
                parts.push(&s[start..i]);
                start = i;
            }
            in_string = !in_string;
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$'
}

/// Byte offsets of `word` in `code` as a whole word (case-insensitive, not after a `.`).
fn find_words(code: &str, word: &str) -> Vec<usize> {
    let lower = code.to_ascii_lowercase();
    let word = word.to_ascii_lowercase();
    let b = lower.as_bytes();
    lower
        .match_indices(&word)
        .map(|(i, _)| i)
        .filter(|&i| {
            let before = i.checked_sub(1).map(|j| b[j]);
            let after = b.get(i + word.len()).copied();
            !before.is_some_and(|c| is_ident(c) || c == b'.') && !after.is_some_and(is_ident)
        })
        .collect()
}

fn replace_word(code: &str, word: &str, with: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for i in find_words(code, word) {
        out.push_str(&code[last..i]);
        out.push_str(with);
        last = i + word.len();
    }
    out.push_str(&code[last..]);
    out
}

/// The argument a removed keyword takes.
#[derive(Clone, Copy)]
enum Arg {
    None,
    Word,
    /// An optional parenthesized list.
    Parens,
}

fn remove_keyword(code: &str, keyword: &str, arg: Arg) -> String {
    let mut out = String::new();
    let mut last = 0;
    for i in find_words(code, keyword) {
        if i < last {
            continue;
        }
        out.push_str(&code[last..i]);
        let mut end = i + keyword.len();
        let rest = &code[end..];
        let skipped = rest.len() - rest.trim_start().len();
        match arg {
            Arg::None => {}
            Arg::Word => {
                let word_end = rest
                    .trim_start()
                    .find([' ', ',', ')', ';'])
                    .unwrap_or(rest.trim_start().len());
                end += skipped + word_end;
            }
            Arg::Parens => {
                if rest.trim_start().starts_with('(') {
                    if let Some(close) = rest.find(')') {
                        end += close + 1;
                    }
                }
            }
        }
        last = end;
    }
    out.push_str(&code[last..]);
    out
}

/// Replaces every call `name(args)` (args without nested parentheses) by `f(args)`.
fn replace_call(code: &str, name: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut last = 0;
    for i in find_words(code, name) {
        let after = &code[i + name.len()..];
        let open = after.len() - after.trim_start().len();
        if !after[open..].starts_with('(') {
            continue;
        }
        let Some(close) = after.find(')') else {
            continue;
        };
        out.push_str(&code[last..i]);
        out.push_str(&f(&after[open + 1..close]));
        last = i + name.len() + close + 1;
    }
    out.push_str(&code[last..]);
    out
}

/// Replaces the first argument of every call `name(part, …)` by `f(part)` when that gives one.
fn replace_call_first_arg(code: &str, name: &str, f: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut last = 0;
    for i in find_words(code, name) {
        let after = &code[i + name.len()..];
        let Some(args) = after.trim_start().strip_prefix('(') else {
            continue;
        };
        let Some(comma) = args.find(',') else {
            continue;
        };
        let Some(part) = f(args[..comma].trim()) else {
            continue;
        };
        let start = i + name.len() + (after.len() - args.len());
        out.push_str(&code[last..start]);
        out.push_str(&part);
        last = start + comma;
    }
    out.push_str(&code[last..]);
    out
}

/// `code` without `PRIMARY KEY` constraints (a table constraint with its list and the comma
/// before it, or a column's `PRIMARY KEY`).
fn remove_primary_keys(code: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for i in find_words(code, "PRIMARY") {
        let rest = &code[i + "PRIMARY".len()..];
        let Some(after_key) = rest
            .trim_start()
            .strip_prefix("KEY")
            .or_else(|| rest.trim_start().strip_prefix("key"))
        else {
            continue;
        };
        let mut end = code.len() - after_key.len();
        if after_key.trim_start().starts_with('(') {
            if let Some(close) = after_key.find(')') {
                end += close + 1;
            }
        }
        let mut start = i;
        let before = code[last..i].trim_end();
        if before.ends_with(',') {
            start = last + before.len() - 1;
        }
        out.push_str(&code[last..start]);
        last = end;
    }
    out.push_str(&code[last..]);
    out
}
