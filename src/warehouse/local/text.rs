//! Arrow results as text, spelled the way PostgreSQL's text protocol spells them, so a local
//! result prints (and serialises with `--json`) exactly like the same query's result on a server.
//!
//! Arrow's own formatting is used where it already agrees (integers, text, decimals, dates); the
//! types where the two differ are written here: timestamps (`2018-11-01 21:01:46.796`, not
//! `2018-11-01T21:01:46.796`), booleans (`t`/`f`) and doubles (`240`, `1e-05`, not `240.0`,
//! `1e-5`).

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, SchemaRef, TimeUnit, TimestampMicrosecondType};
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::warehouse::exec::TextRows;

/// The rows of `batches` (all of `schema`) as text; NULL is `None`.
pub fn rows(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<TextRows, ArrowError> {
    let mut out = TextRows {
        columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
        rows: Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum()),
    };
    for batch in batches {
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                // One path for every timestamp: microseconds, the schema's unit.
                DataType::Timestamp(unit, tz) if *unit != TimeUnit::Microsecond => {
                    let micros = DataType::Timestamp(TimeUnit::Microsecond, tz.clone());
                    arrow::compute::cast(c, &micros)
                }
                _ => Ok(c.clone()),
            })
            .collect::<Result<_, _>>()?;
        let options = FormatOptions::default();
        let formatters = columns
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..batch.num_rows() {
            let row = columns
                .iter()
                .zip(&formatters)
                .map(|(c, f)| (!c.is_null(i)).then(|| cell(c.as_ref(), f, i)))
                .collect();
            out.rows.push(row);
        }
    }
    Ok(out)
}

/// One non-NULL value.
fn cell(column: &dyn Array, formatter: &ArrayFormatter<'_>, i: usize) -> String {
    match column.data_type() {
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            timestamp(column.as_primitive::<TimestampMicrosecondType>().value(i))
        }
        DataType::Boolean => if column.as_boolean().value(i) {
            "t"
        } else {
            "f"
        }
        .to_owned(),
        DataType::Float64 => double(column.as_primitive::<Float64Type>().value(i)),
        _ => formatter.value(i).to_string(),
    }
}

/// A timestamp without time zone, as PostgreSQL prints it: `YYYY-MM-DD HH:MM:SS[.ffffff]` with
/// trailing zeros of the fraction dropped.
fn timestamp(micros: i64) -> String {
    let Some(t) = arrow::temporal_conversions::timestamp_us_to_datetime(micros) else {
        return micros.to_string();
    };
    let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let fraction = micros.rem_euclid(1_000_000);
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        s.push('.');
        s.push_str(digits.trim_end_matches('0'));
    }
    s
}

/// A double as PostgreSQL (12 and newer) prints it: the shortest text that reads back the same
/// value, in positional notation from 1e-4 up to 1e15 and in exponent notation (`1.5e+20`,
/// `1e-05`) outside; `NaN`, `Infinity`, `-Infinity`.
fn double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: `d[.ddd]e<exp>`.
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if v < 0.0 { "-" } else { "" };
    if !(-4..15).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{exp_sign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values are PostgreSQL 15's output of `SELECT x::float8` / `x::timestamp`.
    #[test]
    fn doubles_print_like_postgresql() {
        for (v, pg) in [
            (240.0, "240"),
            (218.93179, "218.93179"),
            (-118.24, "-118.24"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456789012345.0, "123456789012345"),
            (1e15, "1e+15"),
            (1.5e20, "1.5e+20"),
            (-2.5e-7, "-2.5e-07"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(double(v), pg, "{v}");
        }
    }

    #[test]
    fn timestamps_print_like_postgresql() {
        assert_eq!(timestamp(1_541_106_106_796_000), "2018-11-01 21:01:46.796");
        assert_eq!(timestamp(1_541_106_106_790_000), "2018-11-01 21:01:46.79");
        assert_eq!(timestamp(1_541_106_106_000_000), "2018-11-01 21:01:46");
        assert_eq!(timestamp(-1), "1969-12-31 23:59:59.999999");
    }
}
