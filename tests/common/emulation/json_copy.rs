//! `COPY … FORMAT AS JSON 'auto' | 'auto ignorecase' | 's3://…jsonpaths'` from an S3 prefix, as
//! Redshift runs it (the ELT path).
//!
//! - https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-json.html — the
//!   file holds JSON objects one after another; with `'auto'` object keys match column names
//!   (case-sensitively, `'auto ignorecase'` not), a missing key loads NULL; with a JSONPaths file
//!   each expression feeds the column at its position, and their numbers must match.
//! - https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html —
//!   TRUNCATECOLUMNS cuts a string to the column's width in bytes (else the record is an error,
//!   1204); TIMEFORMAT 'epochsecs'/'epochmillisecs' reads numbers as times; MAXERROR is the number
//!   of records that may fail (logged in stl_load_errors) before the COPY fails.
//! - https://docs.aws.amazon.com/redshift/latest/dg/r_COPY_command_examples.html (load from JSON)

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use simd_json::{OwnedValue, StaticNode};

use super::copy::{Column, TextRows};
use super::statement::Copy;
use super::{objects, redshift_error, Failure, LoadError};

/// How JSON values reach the columns.
enum Mapping {
    Auto { ignore_case: bool },
    Paths(Vec<Vec<String>>),
}

/// Parses `$['a']['b']`, `$.a.b` or `$["a"]` into keys.
fn json_path(expr: &str) -> Option<Vec<String>> {
    let mut rest = expr.trim().strip_prefix('$')?;
    let mut keys = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']")?;
            keys.push(r[..end].to_owned());
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix("[\"") {
            let end = r.find("\"]")?;
            keys.push(r[..end].to_owned());
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            keys.push(r[..end].to_owned());
            rest = &r[end..];
        } else {
            return None;
        }
    }
    Some(keys)
}

fn mapping(root: &Path, spec: &str, columns: &[Column]) -> Result<Mapping, Failure> {
    match spec.to_ascii_lowercase().as_str() {
        "auto" => return Ok(Mapping::Auto { ignore_case: false }),
        "auto ignorecase" => return Ok(Mapping::Auto { ignore_case: true }),
        _ => {}
    }
    let bytes = objects::read(root, spec)?.ok_or_else(|| {
        redshift_error(
            "XX000",
            format!("S3ServiceException:The specified key does not exist ({spec}),Status 404"),
        )
    })?;
    let file: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| redshift_error("XX000", format!("Invalid JSONPaths file {spec}: {e}")))?;
    let exprs = file["jsonpaths"].as_array().ok_or_else(|| {
        redshift_error(
            "XX000",
            format!("Invalid JSONPaths file {spec}: no jsonpaths array"),
        )
    })?;
    if exprs.len() != columns.len() {
        return Err(redshift_error(
            "XX000",
            format!(
                "Number of jsonpaths and the number of columns should match. JSONPath size: {}, \
                 Number of columns in table or column list: {}",
                exprs.len(),
                columns.len()
            ),
        ));
    }
    let paths = exprs
        .iter()
        .map(|e| {
            e.as_str().and_then(json_path).ok_or_else(|| {
                redshift_error(
                    "XX000",
                    format!("Invalid JSONPath expression {e} in {spec}"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Mapping::Paths(paths))
}

fn lookup<'a>(value: &'a OwnedValue, key: &str, ignore_case: bool) -> Option<&'a OwnedValue> {
    let OwnedValue::Object(map) = value else {
        return None;
    };
    if ignore_case {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    } else {
        map.get(key)
    }
}

/// The text for one JSON value in `column`, or the load error (code, reason).
fn convert(
    value: Option<&OwnedValue>,
    column: &Column,
    copy: &Copy,
) -> Result<Option<String>, (i32, String)> {
    let ty = column.pg_type.as_str();
    let text = match value {
        None | Some(OwnedValue::Static(StaticNode::Null)) => return Ok(None),
        Some(OwnedValue::String(s)) => s.to_string(),
        Some(OwnedValue::Static(StaticNode::Bool(b))) => b.to_string(),
        Some(OwnedValue::Static(StaticNode::I64(n))) => n.to_string(),
        Some(OwnedValue::Static(StaticNode::U64(n))) => n.to_string(),
        Some(OwnedValue::Static(StaticNode::F64(f))) => {
            if matches!(ty, "integer" | "bigint" | "smallint") {
                return Err((1207, format!("Invalid digit, Value '{f}', Type: {ty}")));
            }
            f.to_string()
        }
        Some(other) => other.to_string(),
    };
    if let Some(n) = column.varchar_len {
        if text.len() > n {
            if !copy.truncate_columns {
                return Err((
                    1204,
                    format!(
                        "String length exceeds DDL length. Length: {}, DDL: {n}",
                        text.len()
                    ),
                ));
            }
            let mut cut = n;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return Ok(Some(text[..cut].to_owned()));
        }
        return Ok(Some(text));
    }
    let number = |parse_ok: bool| {
        if parse_ok {
            Ok(Some(text.clone()))
        } else {
            Err((1207, format!("Invalid digit, Value '{text}', Type: {ty}")))
        }
    };
    match ty {
        "integer" => number(text.parse::<i32>().is_ok()),
        "smallint" => number(text.parse::<i16>().is_ok()),
        "bigint" => number(text.parse::<i64>().is_ok()),
        "double precision" | "real" => number(text.parse::<f64>().is_ok()),
        "timestamp without time zone" => match (copy.time_format.as_deref(), text.parse::<i64>()) {
            (Some(f), Ok(n)) if f.eq_ignore_ascii_case("epochmillisecs") => {
                Ok(Some(epoch_ms_text(n)))
            }
            (Some(f), Ok(n)) if f.eq_ignore_ascii_case("epochsecs") => {
                Ok(Some(epoch_ms_text(n.saturating_mul(1000))))
            }
            (_, Ok(_)) => Err((1206, format!("Invalid timestamp format or value '{text}'"))),
            _ => Ok(Some(text)),
        },
        _ => Ok(Some(text)),
    }
}

/// The JSON records of one object, with their 1-based lines, and where it stops being JSON.
struct Parsed {
    records: Vec<(i64, OwnedValue)>,
    invalid: Option<(i64, String)>,
}

/// Parses are kept per object content: the tests load the same objects many times, and a debug
/// build parses slowly.
type Cache = Mutex<HashMap<(String, u64), Arc<Parsed>>>;

fn parsed(url: &str, bytes: &[u8]) -> Result<Arc<Parsed>, Failure> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    let key = (url.to_owned(), hasher.finish());
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(p) = cache.lock().unwrap().get(&key) {
        return Ok(p.clone());
    }
    let mut out = Parsed {
        records: Vec::new(),
        invalid: None,
    };
    let mut stream =
        serde_json::Deserializer::from_slice(bytes).into_iter::<serde::de::IgnoredAny>();
    let (mut start, mut line, mut counted) = (0usize, 1i64, 0usize);
    loop {
        let next = stream.next();
        let end = stream.byte_offset();
        let first = start
            + bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        line += bytes[counted..first]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as i64;
        counted = first;
        match next {
            None => break,
            Some(Err(e)) => {
                out.invalid = Some((line, format!("Invalid JSON: {e}")));
                break;
            }
            Some(Ok(_)) => {}
        }
        // simd-json parses numbers exactly, as Redshift and sparkify's parser do.
        let mut record = bytes[start..end].to_vec();
        start = end;
        let value = simd_json::to_owned_value(&mut record).map_err(|e| {
            redshift_error("XX000", format!("emulation: JSON re-parse of {url}: {e}"))
        })?;
        out.records.push((line, value));
    }
    let out = Arc::new(out);
    cache.lock().unwrap().insert(key, out.clone());
    Ok(out)
}

/// The rows of every object under the COPY's prefix.
pub fn read(root: &Path, copy: &Copy, spec: &str, columns: &[Column]) -> Result<TextRows, Failure> {
    if copy.manifest {
        return Err(redshift_error(
            "0A000",
            "emulation: JSON COPY is emulated from a prefix only",
        ));
    }
    let mapping = mapping(root, spec, columns)?;
    let objects = objects::under_prefix(root, &copy.from)?;
    if objects.is_empty() {
        return Err(redshift_error(
            "XX000",
            format!("The specified S3 prefix '{}' does not exist", copy.from),
        ));
    }
    let mut rows = TextRows::new();
    let mut errors = Vec::new();
    for (url, bytes) in &objects {
        let parsed = parsed(url, bytes)?;
        for (line, value) in &parsed.records {
            let line = *line;
            let values: Vec<Option<&OwnedValue>> = match &mapping {
                Mapping::Auto { ignore_case } => columns
                    .iter()
                    .map(|c| lookup(value, &c.name, *ignore_case))
                    .collect(),
                Mapping::Paths(paths) => paths
                    .iter()
                    .map(|keys| keys.iter().try_fold(value, |v, k| lookup(v, k, false)))
                    .collect(),
            };
            let row: Result<Vec<_>, _> = values
                .iter()
                .zip(columns)
                .map(|(v, c)| {
                    convert(*v, c, copy).map_err(|(code, reason)| LoadError {
                        file: url.clone(),
                        line,
                        column: c.name.clone(),
                        column_type: c.pg_type.clone(),
                        code,
                        reason,
                        spectrum: false,
                    })
                })
                .collect();
            match row {
                Ok(row) => rows.push(row),
                Err(e) => errors.push(e),
            }
        }
        if let Some((line, reason)) = &parsed.invalid {
            errors.push(LoadError {
                file: url.clone(),
                line: *line,
                column: String::new(),
                column_type: String::new(),
                code: 1224,
                reason: reason.clone(),
                spectrum: false,
            });
        }
    }
    if errors.len() as u64 > copy.max_error {
        return Err(Failure {
            code: "XX000".into(),
            message: format!(
                "Load into table '{}' failed. Check 'stl_load_errors' system table for details.",
                copy.table
            ),
            load_errors: errors,
            server: None,
        });
    }
    Ok(rows)
}

/// `ms` milliseconds after 1970-01-01 as a timestamp PostgreSQL reads (`1970-01-01 00:00:00.123`
/// style, via days and the civil-from-days algorithm).
fn epoch_ms_text(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}
