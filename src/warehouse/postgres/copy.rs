//! Parquet into binary `COPY`: reading files on a blocking thread and encoding their rows.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Float64Type, Int32Type, Int64Type, SchemaRef, TimestampMicrosecondType,
};
use bytes::{BufMut, BytesMut};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::Client;

use super::error::{describe, PgError, Result};
use crate::schema::{ColumnType, Table};

/// Record batch size used when streaming Parquet files into `COPY`.
const BATCH_ROWS: usize = 8192;
/// Microseconds from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// The PostgreSQL type a column is sent as in binary `COPY` (star-schema and ELT staging tables).
pub(crate) fn pg_type(ty: ColumnType) -> Type {
    match ty {
        ColumnType::BigInt => Type::INT8,
        ColumnType::Integer => Type::INT4,
        ColumnType::Double => Type::FLOAT8,
        ColumnType::Timestamp => Type::TIMESTAMP,
        ColumnType::Varchar(_) => Type::VARCHAR,
    }
}

/// Copies one Parquet file into the stage; returns the rows read (verified against the server's
/// count).
pub(super) async fn copy_file(
    client: &Client,
    table: &'static Table,
    file: &Path,
    copy_sql: &str,
) -> Result<u64> {
    let mut batches = BatchReader::spawn(table, file.to_path_buf());
    // Wait for the file to open and its schema to check out before starting COPY.
    let first = batches.next().await?;

    let copy_error = |source: tokio_postgres::Error| PgError::Copy {
        table: table.name,
        file: file.to_path_buf(),
        reason: describe(&source),
        source,
    };
    let sink = client.copy_in(copy_sql).await.map_err(copy_error)?;
    let types: Vec<Type> = table.columns.iter().map(|c| pg_type(c.ty)).collect();
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);

    // Dropping the writer on an early return aborts the COPY (CopyFail); the caller rolls back.
    let mut read = 0u64;
    let mut next = first;
    while let Some(batch) = next {
        write_batch(writer.as_mut(), table, file, &batch, read).await?;
        read += batch.num_rows() as u64;
        next = batches.next().await?;
    }
    let staged = writer.as_mut().finish().await.map_err(copy_error)?;
    if staged != read {
        return Err(PgError::RowCountMismatch {
            table: table.name,
            file: Some(file.to_path_buf()),
            read,
            staged,
        });
    }
    tracing::debug!(table = table.name, file = %file.display(), rows = read, "copied");
    Ok(read)
}

/// Reads a Parquet file on a blocking thread, handing its batches over through a small channel so
/// that reading and `COPY` overlap and memory stays bounded.
struct BatchReader {
    rx: mpsc::Receiver<Result<RecordBatch>>,
    /// Joined once the channel closes, so that a reader that died early is an error rather than a
    /// silently short file.
    handle: Option<tokio::task::JoinHandle<()>>,
    table: &'static Table,
    file: PathBuf,
}

impl BatchReader {
    fn spawn(table: &'static Table, file: PathBuf) -> BatchReader {
        let (tx, rx) = mpsc::channel(2);
        let path = file.clone();
        let handle = tokio::task::spawn_blocking(move || read_parquet(table, &path, &tx));
        BatchReader {
            rx,
            handle: Some(handle),
            table,
            file,
        }
    }

    /// The next batch, `None` at the end of the file.
    async fn next(&mut self) -> Result<Option<RecordBatch>> {
        match self.rx.recv().await {
            Some(batch) => batch.map(Some),
            None => {
                if let Some(handle) = self.handle.take() {
                    handle.await.map_err(|e| PgError::ReadParquet {
                        table: self.table.name,
                        file: self.file.clone(),
                        reason: format!("the reader task failed: {e}"),
                    })?;
                }
                Ok(None)
            }
        }
    }
}

/// Sends the file's batches, or one error, to `tx`; stops early when the receiver is gone.
fn read_parquet(table: &'static Table, file: &Path, tx: &mpsc::Sender<Result<RecordBatch>>) {
    let read_error = |reason: String| PgError::ReadParquet {
        table: table.name,
        file: file.to_path_buf(),
        reason,
    };
    let opened = std::fs::File::open(file)
        .map_err(|e| read_error(e.to_string()))
        .and_then(|f| {
            ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| read_error(e.to_string()))
        })
        .and_then(|b| {
            check_schema(table, file, b.schema())?;
            let expected = b.metadata().file_metadata().num_rows();
            let reader = b
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| read_error(e.to_string()))?;
            Ok((reader, expected))
        });
    let (reader, expected) = match opened {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.blocking_send(Err(e));
            return;
        }
    };
    let mut rows = 0i64;
    for batch in reader {
        let msg = batch.map_err(|e| read_error(e.to_string()));
        if let Ok(b) = &msg {
            rows += b.num_rows() as i64;
        }
        let failed = msg.is_err();
        if tx.blocking_send(msg).is_err() || failed {
            return; // the loader stopped listening, or this was the error to report
        }
    }
    if rows != expected {
        let _ = tx.blocking_send(Err(read_error(format!(
            "the footer promises {expected} rows but {rows} were read"
        ))));
    }
}

fn check_schema(table: &'static Table, file: &Path, found: &SchemaRef) -> Result<()> {
    let mismatch = |detail: String| PgError::SchemaMismatch {
        table: table.name,
        file: file.to_path_buf(),
        detail,
    };
    match crate::warehouse::schema_mismatch(table, found) {
        Some(detail) => Err(mismatch(detail)),
        None => Ok(()),
    }
}

/// One value in binary `COPY` encoding.
#[derive(Debug)]
enum Cell<'a> {
    Null,
    BigInt(i64),
    Int(i32),
    Double(f64),
    /// Microseconds since 2000-01-01 (PostgreSQL's epoch).
    Timestamp(i64),
    Text(&'a str),
}

impl ToSql for Cell<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self, ty) {
            (Cell::Null, _) => return Ok(IsNull::Yes),
            (Cell::BigInt(v), &Type::INT8) => out.put_i64(*v),
            (Cell::Int(v), &Type::INT4) => out.put_i32(*v),
            (Cell::Double(v), &Type::FLOAT8) => out.put_f64(*v),
            (Cell::Timestamp(v), &Type::TIMESTAMP) => out.put_i64(*v),
            (Cell::Text(s), &Type::VARCHAR | &Type::TEXT) => out.put_slice(s.as_bytes()),
            (cell, ty) => {
                return Err(format!("cannot send {cell:?} as PostgreSQL type {ty}").into());
            }
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8 | Type::INT4 | Type::FLOAT8 | Type::TIMESTAMP | Type::VARCHAR | Type::TEXT
        )
    }

    to_sql_checked!();
}

/// A typed view of one column of a batch.
enum ColumnView<'a> {
    BigInt(&'a arrow::array::Int64Array),
    Int(&'a arrow::array::Int32Array),
    Double(&'a arrow::array::Float64Array),
    Timestamp(&'a arrow::array::TimestampMicrosecondArray),
    Text(&'a arrow::array::StringArray),
}

async fn write_batch(
    mut writer: Pin<&mut BinaryCopyInWriter>,
    table: &'static Table,
    file: &Path,
    batch: &RecordBatch,
    first_row: u64,
) -> Result<()> {
    let value_error = |row: usize, column: &'static str, reason: String| PgError::Value {
        table: table.name,
        file: file.to_path_buf(),
        row: first_row + row as u64,
        column,
        reason,
    };
    let mut views = Vec::with_capacity(table.columns.len());
    for (i, c) in table.columns.iter().enumerate() {
        let a = batch.column(i);
        let view = match (c.ty, a.data_type()) {
            (ColumnType::BigInt, DataType::Int64) => {
                a.as_primitive_opt::<Int64Type>().map(ColumnView::BigInt)
            }
            (ColumnType::Integer, DataType::Int32) => {
                a.as_primitive_opt::<Int32Type>().map(ColumnView::Int)
            }
            (ColumnType::Double, DataType::Float64) => {
                a.as_primitive_opt::<Float64Type>().map(ColumnView::Double)
            }
            (ColumnType::Timestamp, DataType::Timestamp(_, None)) => a
                .as_primitive_opt::<TimestampMicrosecondType>()
                .map(ColumnView::Timestamp),
            (ColumnType::Varchar(_), DataType::Utf8) => {
                a.as_string_opt::<i32>().map(ColumnView::Text)
            }
            _ => None,
        };
        let view = view.ok_or_else(|| {
            value_error(
                0,
                c.name,
                format!("unexpected Arrow type {}", a.data_type()),
            )
        })?;
        views.push((c, view));
    }

    let mut cells: Vec<Cell<'_>> = Vec::with_capacity(views.len());
    for row in 0..batch.num_rows() {
        cells.clear();
        for (c, view) in &views {
            let cell = match view {
                ColumnView::BigInt(a) if a.is_valid(row) => Cell::BigInt(a.value(row)),
                ColumnView::Int(a) if a.is_valid(row) => Cell::Int(a.value(row)),
                ColumnView::Double(a) if a.is_valid(row) => Cell::Double(a.value(row)),
                ColumnView::Timestamp(a) if a.is_valid(row) => Cell::Timestamp(
                    a.value(row)
                        .checked_sub(PG_EPOCH_OFFSET_MICROS)
                        .ok_or_else(|| {
                            value_error(row, c.name, "timestamp out of range".to_owned())
                        })?,
                ),
                ColumnView::Text(a) if a.is_valid(row) => {
                    let s = a.value(row);
                    if s.as_bytes().contains(&0) {
                        return Err(value_error(
                            row,
                            c.name,
                            "text contains a NUL byte, which PostgreSQL cannot store".to_owned(),
                        ));
                    }
                    Cell::Text(s)
                }
                _ => Cell::Null,
            };
            cells.push(cell);
        }
        writer
            .as_mut()
            .write_raw(cells.iter())
            .await
            .map_err(|source| PgError::Copy {
                table: table.name,
                file: file.to_path_buf(),
                reason: format!("at row {}: {}", first_row + row as u64, describe(&source)),
                source,
            })?;
    }
    Ok(())
}
