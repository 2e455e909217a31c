//! Table rows as plain values, read from PostgreSQL or from Arrow, for exact comparisons.
#![allow(dead_code)]

use arrow::array::{
    Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use sparkify::schema::{ColumnType, Table};
use tokio_postgres::types::{FromSql, Type};

/// A table's rows, sorted by key.
pub type Rows = Vec<Vec<V>>;

#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum V {
    Null,
    I64(i64),
    I32(i32),
    /// Compared by bit pattern, so -0.0, tiny and long-mantissa values must round-trip exactly.
    F64(F),
    /// Microseconds since 1970-01-01.
    Ts(i64),
    S(String),
}

#[derive(Debug, Clone, Copy, PartialOrd)]
pub struct F(pub f64);

impl PartialEq for F {
    fn eq(&self, other: &F) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

pub fn s(x: &str) -> V {
    V::S(x.to_owned())
}
pub fn f(x: f64) -> V {
    V::F64(F(x))
}

/// Reads a TIMESTAMP exactly, as microseconds since 1970.
pub struct PgTs(pub i64);

impl<'a> FromSql<'a> for PgTs {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<PgTs, Box<dyn std::error::Error + Sync + Send>> {
        let b: [u8; 8] = raw.try_into()?;
        Ok(PgTs(i64::from_be_bytes(b) + 946_684_800_000_000))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMP
    }
}

pub async fn fetch(client: &tokio_postgres::Client, qualified: &str, table: &Table) -> Rows {
    let q = format!("SELECT {} FROM {qualified}", table.column_list());
    let mut out: Rows = client
        .query(&q, &[])
        .await
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .iter()
        .map(|row| {
            table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| match c.ty {
                    ColumnType::BigInt => row.get::<_, Option<i64>>(i).map_or(V::Null, V::I64),
                    ColumnType::Integer => row.get::<_, Option<i32>>(i).map_or(V::Null, V::I32),
                    ColumnType::Double => row.get::<_, Option<f64>>(i).map_or(V::Null, f),
                    ColumnType::Timestamp => row
                        .get::<_, Option<PgTs>>(i)
                        .map_or(V::Null, |t| V::Ts(t.0)),
                    ColumnType::Varchar(_) => row.get::<_, Option<String>>(i).map_or(V::Null, V::S),
                })
                .collect()
        })
        .collect();
    sort_rows(&mut out);
    out
}

pub fn sort_rows(rows: &mut Rows) {
    rows.sort_by(|a, b| a[0].partial_cmp(&b[0]).expect("keys are comparable"));
}

/// The rows of a batch holding `table`, sorted by key.
pub fn batch_rows(batch: &RecordBatch, table: &Table) -> Rows {
    let mut out: Rows = (0..batch.num_rows())
        .map(|r| {
            table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let col = batch.column(i);
                    if col.is_null(r) {
                        return V::Null;
                    }
                    let any = col.as_any();
                    match c.ty {
                        ColumnType::BigInt => {
                            V::I64(any.downcast_ref::<Int64Array>().unwrap().value(r))
                        }
                        ColumnType::Integer => {
                            V::I32(any.downcast_ref::<Int32Array>().unwrap().value(r))
                        }
                        ColumnType::Double => {
                            f(any.downcast_ref::<Float64Array>().unwrap().value(r))
                        }
                        ColumnType::Timestamp => V::Ts(
                            any.downcast_ref::<TimestampMicrosecondArray>()
                                .unwrap()
                                .value(r),
                        ),
                        ColumnType::Varchar(_) => V::S(
                            any.downcast_ref::<StringArray>()
                                .unwrap()
                                .value(r)
                                .to_string(),
                        ),
                    }
                })
                .collect()
        })
        .collect();
    sort_rows(&mut out);
    out
}
