//! Calendar breakdown of epoch timestamps, in UTC, without a date library.

/// The `time` table's fields for one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breakdown {
    /// Hour of day, 0–23.
    pub hour: i32,
    /// Day of month, 1–31.
    pub day: i32,
    /// ISO 8601 week of the year, 1–53.
    pub week: i32,
    /// Month, 1–12.
    pub month: i32,
    /// Calendar year.
    pub year: i32,
    /// Day of week, 0 = Sunday … 6 = Saturday (as SQL `EXTRACT(dow …)`).
    pub weekday: i32,
}

/// The `time` table: one row per distinct start time (epoch µs), sorted, in batches of up to
/// `rows` rows (built as they are written, so memory holds one batch of calendar fields).
///
/// Start times usually arrive sorted (logs are chronological), which is checked before sorting on
/// the rayon pool; each batch's calendar fields are worked out in parallel blocks, a day's fields
/// once for all its instants (sorted instants come day by day).
pub fn time_batches(
    mut starts: Vec<i64>,
    rows: usize,
) -> impl Iterator<Item = Result<arrow::array::RecordBatch, arrow::error::ArrowError>> {
    use rayon::slice::ParallelSliceMut;

    if !starts.is_sorted() {
        starts.par_sort_unstable();
    }
    starts.dedup();
    // Shared with the batches' `start_time` columns, which are slices of it.
    let starts = arrow::buffer::ScalarBuffer::from(starts);
    let rows = rows.max(1);
    let batches = starts.len().div_ceil(rows).max(1);
    (0..batches).map(move |i| {
        let at = (i * rows).min(starts.len());
        time_batch(starts.slice(at, rows.min(starts.len() - at)))
    })
}

/// Rows of calendar fields worked out per parallel task.
const BLOCK_ROWS: usize = 1 << 16;

fn time_batch(
    starts: arrow::buffer::ScalarBuffer<i64>,
) -> Result<arrow::array::RecordBatch, arrow::error::ArrowError> {
    use arrow::array::{ArrayRef, Int32Array, TimestampMicrosecondArray};
    use rayon::prelude::*;
    use std::sync::Arc;

    let blocks: Vec<[Vec<i32>; 6]> = starts
        .par_chunks(BLOCK_ROWS)
        .map(|block| {
            let mut day = DayCache::default();
            let mut fields: [Vec<i32>; 6] =
                std::array::from_fn(|_| Vec::with_capacity(block.len()));
            for &t in block {
                let b = day.breakdown(t);
                for (field, value) in fields
                    .iter_mut()
                    .zip([b.hour, b.day, b.week, b.month, b.year, b.weekday])
                {
                    field.push(value);
                }
            }
            fields
        })
        .collect();
    let starts_len = starts.len();
    let mut columns: Vec<ArrayRef> = vec![Arc::new(TimestampMicrosecondArray::new(starts, None))];
    for k in 0..6 {
        let mut field = Vec::with_capacity(starts_len);
        for block in &blocks {
            field.extend_from_slice(&block[k]);
        }
        columns.push(Arc::new(Int32Array::from(field)));
    }
    arrow::array::RecordBatch::try_new(crate::schema::TIME.arrow_schema(), columns)
}

/// [`breakdown`] that remembers the last day it worked out.
#[derive(Default)]
struct DayCache {
    last: Option<(i64, Breakdown)>,
}

impl DayCache {
    fn breakdown(&mut self, micros: i64) -> Breakdown {
        let secs = micros.div_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        match self.last {
            Some((d, b)) if d == days => Breakdown {
                hour: (secs.rem_euclid(86_400) / 3600) as i32,
                ..b
            },
            _ => {
                let b = breakdown(micros);
                self.last = Some((days, b));
                b
            }
        }
    }
}

/// Breaks epoch microseconds down into calendar fields (UTC).
pub fn breakdown(micros: i64) -> Breakdown {
    let secs = micros.div_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let hour = (secs.rem_euclid(86_400) / 3600) as i32;
    let (year, month, day) = civil_from_days(days);
    let weekday = (days + 4).rem_euclid(7) as i32; // 1970-01-01 was a Thursday
    Breakdown {
        hour,
        day,
        week: iso_week(days, year),
        month,
        year,
        weekday,
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i32, i32, i32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as i32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as i32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(year: i32, month: i32, day: i32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// ISO week number of the day `days` (since the epoch) that falls in calendar `year`.
fn iso_week(days: i64, year: i32) -> i32 {
    let iso_weekday = |d: i64| (d + 3).rem_euclid(7); // Monday = 0
                                                      // The Monday of ISO week 1 is the Monday of the week holding January 4th.
    let week1 = |y: i32| {
        let jan4 = days_from_civil(y, 1, 4);
        jan4 - iso_weekday(jan4)
    };
    let mut start = week1(year);
    if days < start {
        start = week1(year - 1);
    } else if days >= week1(year + 1) {
        start = week1(year + 1);
    }
    ((days - start) / 7 + 1) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: i32, d: i32, h: i64) -> i64 {
        (days_from_civil(y, m, d) * 86_400 + h * 3600) * 1_000_000
    }

    #[test]
    fn real_sample_instant() {
        // 1542837407796 ms = 2018-11-21 21:56:47.796 UTC, a Wednesday in ISO week 47.
        let b = breakdown(1_542_837_407_796_000);
        assert_eq!(
            b,
            Breakdown {
                hour: 21,
                day: 21,
                week: 47,
                month: 11,
                year: 2018,
                weekday: 3
            }
        );
    }

    #[test]
    fn iso_weeks_at_year_edges() {
        assert_eq!(breakdown(at(2018, 12, 31, 0)).week, 1); // Monday of 2019-W01
        assert_eq!(breakdown(at(2021, 1, 3, 0)).week, 53); // Sunday of 2020-W53
        assert_eq!(breakdown(at(2021, 1, 4, 0)).week, 1);
        assert_eq!(breakdown(at(1970, 1, 1, 0)).weekday, 4);
        assert_eq!(breakdown(at(2000, 2, 29, 23)).day, 29);
    }

    #[test]
    fn time_batches_are_distinct_sorted_and_cut_at_the_row_limit() {
        let hour = 3_600_000_000;
        let starts = vec![5 * hour, hour, 5 * hour, 3 * hour, hour, 2 * hour];
        let batches: Vec<_> = time_batches(starts, 3).map(|b| b.unwrap()).collect();
        assert_eq!(
            batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
            vec![3, 1]
        );
        let hours: Vec<i32> = batches
            .iter()
            .flat_map(|b| {
                arrow::array::as_primitive_array::<arrow::datatypes::Int32Type>(b.column(1))
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(hours, vec![1, 2, 3, 5]);
        let empty: Vec<_> = time_batches(Vec::new(), 3).collect();
        assert_eq!(empty.len(), 1, "an empty table is one empty batch");
        assert_eq!(empty[0].as_ref().unwrap().num_rows(), 0);
    }

    #[test]
    fn the_day_cache_gives_what_breakdown_gives() {
        let mut cache = DayCache::default();
        let hour = 3_600_000_000;
        let start = at(2020, 12, 31, 0) - 5 * hour;
        for t in (0..200).map(|i| start + i * hour / 2 + i) {
            assert_eq!(cache.breakdown(t), breakdown(t), "{t}");
        }
    }

    #[test]
    fn days_round_trip() {
        for d in (-800_000..3_000_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }
}
