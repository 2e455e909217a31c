//! `COPY … FORMAT AS PARQUET MANIFEST`, as Redshift runs it.
//!
//! - Manifest: https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html
//!   — `entries` of `url`, `mandatory` and, for columnar files, `meta.content_length`, which must be
//!   the object's size; a missing `mandatory` object fails the COPY, a missing optional one is
//!   skipped.
//! - Columns: https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-columnar.html
//!   — "COPY inserts values into the target table's columns in the same order as the columns
//!   occur in the columnar data files. The number of columns in the target table and the number
//!   of columns in the data file must match."; types must match (Spectrum is strict, see
//!   https://repost.aws/knowledge-center/redshift-spectrum-data-errors); a string longer than its
//!   VARCHAR in bytes aborts the COPY (no TRUNCATECOLUMNS for Parquet). Any error fails the whole
//!   COPY (no MAXERROR).

use std::path::Path;

use arrow::array::{Array, BooleanArray, Float32Array, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::copy::{Column, TextRows};
use super::{objects, redshift_error, Failure, LoadError};

/// Spectrum's error code for a scan error.
const SPECTRUM: i32 = 15007;

fn spectrum(file: &str, column: &Column, reason: String) -> Failure {
    Failure {
        code: "XX000".into(),
        message: format!("Spectrum Scan Error: {reason}"),
        load_errors: vec![LoadError {
            file: file.to_owned(),
            line: 0,
            column: column.name.clone(),
            column_type: column.pg_type.clone(),
            code: SPECTRUM,
            reason,
            spectrum: true,
        }],
        server: None,
    }
}

/// Whether a Parquet column of `ty` loads into a column of PostgreSQL type `pg` (as
/// `format_type` prints it), per the mapping in /work/shared/REDSHIFT.md ("Type mapping").
/// Nanosecond timestamps are refused: Redshift misreads them (apache/arrow#38000).
fn loads_into(ty: &DataType, pg: &str) -> bool {
    match ty {
        DataType::Int16 => pg == "smallint",
        DataType::Int32 => pg == "integer",
        DataType::Int64 => pg == "bigint",
        DataType::Float32 => pg == "real",
        DataType::Float64 => pg == "double precision",
        DataType::Boolean => pg == "boolean",
        DataType::Utf8 | DataType::LargeUtf8 => {
            pg.starts_with("character varying") || pg.starts_with("character(") || pg == "text"
        }
        DataType::Date32 => pg == "date",
        DataType::Timestamp(TimeUnit::Microsecond | TimeUnit::Millisecond, None) => {
            pg == "timestamp without time zone"
        }
        DataType::Timestamp(TimeUnit::Microsecond | TimeUnit::Millisecond, Some(_)) => {
            pg == "timestamp with time zone"
        }
        DataType::Decimal128(p, s) => pg == format!("numeric({p},{s})"),
        _ => false,
    }
}

/// The rows of every file the manifest at `url` lists, as text, checked against `columns`.
pub fn read(root: &Path, url: &str, columns: &[Column]) -> Result<TextRows, Failure> {
    let bytes = objects::read(root, url)?.ok_or_else(|| {
        redshift_error(
            "XX000",
            format!("Manifest file is not found: {url} (S3ServiceException: The specified key does not exist)"),
        )
    })?;
    let manifest: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| redshift_error("XX000", format!("Invalid manifest file {url}: {e}")))?;
    let entries = manifest["entries"].as_array().ok_or_else(|| {
        redshift_error(
            "XX000",
            format!("Invalid manifest file {url}: no \"entries\" array"),
        )
    })?;
    let mut rows = TextRows::new();
    for entry in entries {
        let Some(file) = entry["url"].as_str() else {
            return Err(redshift_error(
                "XX000",
                format!("Invalid manifest file {url}: an entry has no url"),
            ));
        };
        let mandatory = entry["mandatory"].as_bool().unwrap_or(false);
        let Some(length) = entry["meta"]["content_length"].as_u64() else {
            return Err(redshift_error(
                "XX000",
                format!("Invalid manifest file {url}: entry {file} has no meta.content_length, required for Parquet"),
            ));
        };
        let Some(data) = objects::read(root, file)? else {
            if mandatory {
                return Err(redshift_error(
                    "XX000",
                    format!(
                        "Spectrum Scan Error: File not found: {file} (a mandatory manifest entry)"
                    ),
                ));
            }
            continue;
        };
        if data.len() as u64 != length {
            return Err(redshift_error(
                "XX000",
                format!(
                    "Spectrum Scan Error: {file}: content_length {length} in the manifest, but the object has {} bytes",
                    data.len()
                ),
            ));
        }
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(data))
            .map_err(|e| redshift_error("XX000", format!("Spectrum Scan Error: {file}: {e}")))?;
        let fields = builder.schema().fields().clone();
        if fields.len() != columns.len() {
            return Err(spectrum(
                file,
                &columns[0],
                format!(
                    "Unmatched number of columns between table and file. Table columns: {}, Data columns: {}, File name: {file}",
                    columns.len(),
                    fields.len()
                ),
            ));
        }
        for (field, column) in fields.iter().zip(columns) {
            if !loads_into(field.data_type(), &column.pg_type) {
                return Err(spectrum(
                    file,
                    column,
                    format!(
                        "File '{file}' has an incompatible Parquet schema for column '{file}.{}'. Column type: {}, Parquet schema: {} {}",
                        column.name,
                        column.pg_type.to_ascii_uppercase(),
                        field.name(),
                        field.data_type()
                    ),
                ));
            }
        }
        let reader = builder
            .build()
            .map_err(|e| redshift_error("XX000", format!("Spectrum Scan Error: {file}: {e}")))?;
        for batch in reader {
            let batch = batch.map_err(|e| {
                redshift_error("XX000", format!("Spectrum Scan Error: {file}: {e}"))
            })?;
            append(&batch, columns, file, &mut rows)?;
        }
    }
    Ok(rows)
}

/// Appends the rows of `batch` as text, checking VARCHAR lengths in bytes.
fn append(
    batch: &RecordBatch,
    columns: &[Column],
    file: &str,
    rows: &mut TextRows,
) -> Result<(), Failure> {
    let options = FormatOptions::default();
    let mut out: TextRows = vec![Vec::with_capacity(columns.len()); batch.num_rows()];
    for (array, column) in batch.columns().iter().zip(columns) {
        let any = array.as_any();
        let formatter = ArrayFormatter::try_new(array.as_ref(), &options)
            .map_err(|e| redshift_error("XX000", e.to_string()))?;
        for (r, row) in out.iter_mut().enumerate() {
            if array.is_null(r) {
                row.push(None);
                continue;
            }
            // Floats in Rust's shortest round-trip form, so PostgreSQL reads the same bits.
            let text = if let Some(a) = any.downcast_ref::<Float64Array>() {
                a.value(r).to_string()
            } else if let Some(a) = any.downcast_ref::<Float32Array>() {
                a.value(r).to_string()
            } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
                a.value(r).to_string()
            } else if let Some(a) = any.downcast_ref::<StringArray>() {
                let v = a.value(r);
                if let Some(n) = column.varchar_len.filter(|&n| v.len() > n) {
                    return Err(spectrum(
                        file,
                        column,
                        format!(
                            "The length of the data column {} is longer than the length defined in the table. Table: {n}, Data: {}",
                            column.name,
                            v.len()
                        ),
                    ));
                }
                v.to_owned()
            } else {
                formatter.value(r).to_string()
            };
            row.push(Some(text));
        }
    }
    rows.extend(out);
    Ok(())
}
