//! The calendar dates of the generated days, for the log files' names (`2018-11-01-events.json`).

/// The (year, month, day) of the generated day `index` (day 0 is 2018-11-01, UTC), found by
/// walking whole months from 2018-11: generated runs span at most a hundred years, and this runs
/// once per log file.
pub(crate) fn date_of(index: u64) -> (i32, u32, u32) {
    let (mut year, mut month, mut left) = (2018, 11, index);
    loop {
        let len = u64::from(month_len(year, month));
        if left < len {
            return (year, month, left as u32 + 1);
        }
        left -= len;
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
}

/// The day index (see [`date_of`]) of an event at `ts` (epoch milliseconds).
#[cfg(test)]
pub(crate) fn index_of_ts(ts: i64) -> u64 {
    (ts.div_euclid(86_400_000) - super::sessions::FIRST_DAY) as u64
}

fn month_len(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_fall_on_their_dates_across_months_leap_years_and_centuries() {
        assert_eq!(date_of(0), (2018, 11, 1));
        assert_eq!(date_of(29), (2018, 11, 30));
        assert_eq!(date_of(30), (2018, 12, 1));
        assert_eq!(date_of(61), (2019, 1, 1));
        // 2020-02-29 and 2020-03-01: 2020 is a leap year (python3: date(2020,2,29) - date(2018,11,1)).
        assert_eq!(date_of(485), (2020, 2, 29));
        assert_eq!(date_of(486), (2020, 3, 1));
        // 2100 is not a leap year: 2100-02-28 is followed by 2100-03-01 (day 29704 and 29705).
        assert_eq!(date_of(29_704), (2100, 2, 28));
        assert_eq!(date_of(29_705), (2100, 3, 1));
        // 1542837407796 ms is 2018-11-21 21:56:47 UTC (the sample's one matched play).
        assert_eq!(date_of(index_of_ts(1_542_837_407_796)), (2018, 11, 21));
    }
}
