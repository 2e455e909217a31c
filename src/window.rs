//! Date ranges and windows of a backfill: `--since`/`--until` (UTC, half-open) and
//! `--window day|week|month`.
//!
//! Times are epoch milliseconds, as the events' `ts`. A log file named `YYYY-MM-DD-…` (the real
//! layout: one file per UTC day) is taken to hold only events of that day, so a file whose day
//! lies outside a range or window is never read; files without a date in their name are read and
//! filtered.

use std::fmt;

use crate::transform::time::{civil_from_days, days_from_civil};

/// The state of a windowed backfill, inside the output it describes (so that it is published
/// with the windows, atomically): its flags and up to where its windows are published.
pub const STATE_FILE: &str = "_windows.json";

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// A half-open range of event times `[since, until)`, either end open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimeRange {
    /// First millisecond included.
    pub since: Option<i64>,
    /// First millisecond no longer included.
    pub until: Option<i64>,
}

impl TimeRange {
    /// Whether `ts` lies in the range.
    #[inline]
    pub fn contains(&self, ts: i64) -> bool {
        self.since.is_none_or(|s| ts >= s) && self.until.is_none_or(|u| ts < u)
    }

    /// Whether the range is the whole time line.
    pub fn is_all(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// Whether any instant of `[start, end)` lies in the range.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.since.is_none_or(|s| end > s) && self.until.is_none_or(|u| start < u)
    }

    /// The part of the range inside `[start, end)`.
    pub fn within(&self, start: i64, end: i64) -> TimeRange {
        TimeRange {
            since: Some(self.since.map_or(start, |s| s.max(start))),
            until: Some(self.until.map_or(end, |u| u.min(end))),
        }
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = |t: Option<i64>| t.map_or_else(|| "open".to_string(), format_ms);
        write!(f, "[{}, {})", end(self.since), end(self.until))
    }
}

/// An instant (epoch ms) as `YYYY-MM-DDTHH:MM:SS[.mmm]Z`, or `YYYY-MM-DD` at midnight.
pub fn format_ms(ms: i64) -> String {
    let (days, rest) = (ms.div_euclid(DAY_MS), ms.rem_euclid(DAY_MS));
    let (y, m, d) = civil_from_days(days);
    if rest == 0 {
        return format!("{y:04}-{m:02}-{d:02}");
    }
    let (h, min, s, milli) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    let frac = if milli == 0 {
        String::new()
    } else {
        format!(".{milli:03}")
    };
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}{frac}Z")
}

/// Parses `--since`/`--until`: `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM[:SS[.fff]]`
/// with an optional `Z` (also with a space for the `T`); always UTC. Returns epoch ms.
pub fn parse_instant(value: &str) -> Result<i64, String> {
    let bad =
        || format!("{value:?} is not a UTC date or time (use 2018-11-05 or 2018-11-05T13:30:00Z)");
    let v = value.trim();
    let v = v.strip_suffix('Z').unwrap_or(v);
    let (date, time) = match v.find(['T', ' ']) {
        Some(at) => (&v[..at], Some(&v[at + 1..])),
        None => (v, None),
    };
    let days = parse_date(date).ok_or_else(bad)?;
    let Some(time) = time else {
        return Ok(days * DAY_MS);
    };
    let (hms, frac) = match time.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (time, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let num = |s: &str, max: i64| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
            .filter(|n| *n <= max)
    };
    let h = num(parts[0], 23).ok_or_else(bad)?;
    let m = num(parts[1], 59).ok_or_else(bad)?;
    let s = parts
        .get(2)
        .map_or(Some(0), |s| num(s, 59))
        .ok_or_else(bad)?;
    let milli = match frac {
        None => 0,
        Some(f) if (1..=3).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{f:0<3}").parse::<i64>().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    Ok(days * DAY_MS + h * 3_600_000 + m * 60_000 + s * 1000 + milli)
}

/// `YYYY-MM-DD` → days since the epoch, for a real calendar day.
fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| {
        s.get(r)
            .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))?
            .parse::<i32>()
            .ok()
    };
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// The UTC day (days since the epoch) a log file is named for: its file name starts with
/// `YYYY-MM-DD`, as in the real layout (`log_data/2018/11/2018-11-05-events.json`).
pub fn day_of_file(name: &str) -> Option<i64> {
    let base = name.rsplit('/').next()?;
    parse_date(base.get(..10)?)
}

/// How long a window is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum WindowSize {
    /// One UTC day.
    Day,
    /// One ISO week, Monday to Sunday.
    Week,
    /// One calendar month.
    Month,
}

impl fmt::Display for WindowSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WindowSize::Day => "day",
            WindowSize::Week => "week",
            WindowSize::Month => "month",
        })
    }
}

/// One window: the events of `[start, end)` (epoch ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First millisecond.
    pub start: i64,
    /// First millisecond of the next window.
    pub end: i64,
}

impl Window {
    /// The window of `size` that holds the instant `ms`.
    pub fn containing(size: WindowSize, ms: i64) -> Window {
        let day = ms.div_euclid(DAY_MS);
        let (start, end) = match size {
            WindowSize::Day => (day, day + 1),
            WindowSize::Week => {
                // 1970-01-01 was a Thursday: Monday is 3 days earlier.
                let monday = day - (day + 3).rem_euclid(7);
                (monday, monday + 7)
            }
            WindowSize::Month => {
                let (y, m, _) = civil_from_days(day);
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                (days_from_civil(y, m, 1), days_from_civil(ny, nm, 1))
            }
        };
        Window {
            start: start * DAY_MS,
            end: end * DAY_MS,
        }
    }

    /// Whether the UTC day `day` (days since the epoch) lies in the window.
    pub fn holds_day(&self, day: i64) -> bool {
        (self.start..self.end).contains(&(day * DAY_MS))
    }

    /// A short name: `2018-11-05`, `2018-11-05/week`, `2018-11`.
    pub fn label(&self, size: WindowSize) -> String {
        let s = format_ms(self.start);
        match size {
            WindowSize::Day => s,
            WindowSize::Week => format!("week of {s}"),
            WindowSize::Month => s[..7].to_string(),
        }
    }
}

/// The windows of `size` covering `[first, last]` (epoch ms, both included), in order.
pub fn windows_between(size: WindowSize, first: i64, last: i64) -> Vec<Window> {
    let mut out = Vec::new();
    let mut at = first;
    while at <= last {
        let w = Window::containing(size, at);
        out.push(w);
        at = w.end;
    }
    out
}

/// The days log files name, for windows without `--since`/`--until`: `(first, last)` epoch ms of
/// the first and last named day, `None` when no file names a day.
pub fn named_days(names: impl Iterator<Item = Option<i64>>) -> Option<(i64, i64)> {
    let (lo, hi) = names
        .flatten()
        .fold((i64::MAX, i64::MIN), |(lo, hi), d| (lo.min(d), hi.max(d)));
    (lo <= hi).then_some((lo * DAY_MS, hi * DAY_MS + DAY_MS - 1))
}

/// Which events of the log files a run keeps.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventFilter {
    /// Events kept: the run's range, or its part in the current window.
    pub keep: TimeRange,
    /// The run's range. In a windowed run (`windowed`), an event of a file named for a day
    /// that lies outside `keep` but inside `range` is rejected: the file is read in its day's
    /// window only, so the event would otherwise be lost.
    pub range: TimeRange,
    /// Whether this is one window of a windowed run.
    pub windowed: bool,
}

/// The log files whose named day overlaps `range` (files without a day in their name are kept).
pub fn logs_in(
    files: Vec<crate::source::InputFile>,
    range: &TimeRange,
) -> Vec<crate::source::InputFile> {
    if range.is_all() {
        return files;
    }
    files
        .into_iter()
        .filter(|f| {
            day_of_file(&f.name).is_none_or(|d| range.overlaps(d * DAY_MS, (d + 1) * DAY_MS))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_as_utc() {
        let day = parse_instant("2018-11-05").unwrap();
        assert_eq!(day, 1_541_376_000_000);
        assert_eq!(parse_instant("2018-11-05T00:00:00Z"), Ok(day));
        assert_eq!(parse_instant("2018-11-05 01:02"), Ok(day + 3_720_000));
        assert_eq!(parse_instant("2018-11-05T01:02:03.5"), Ok(day + 3_723_500));
        for bad in [
            "2018-02-30",
            "2018-11-5",
            "2018-11-05T24:00",
            "x",
            "2018-11-05T1:00",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad}");
        }
        assert_eq!(format_ms(day), "2018-11-05");
        assert_eq!(format_ms(day + 3_723_500), "2018-11-05T01:02:03.500Z");
    }

    #[test]
    fn windows_are_days_iso_weeks_and_months() {
        let at = parse_instant("2018-11-07T12:00").unwrap();
        let d = |s| parse_instant(s).unwrap();
        let w = Window::containing(WindowSize::Week, at);
        assert_eq!((w.start, w.end), (d("2018-11-05"), d("2018-11-12")));
        let m = Window::containing(WindowSize::Month, d("2018-12-31T23:59:59.999"));
        assert_eq!((m.start, m.end), (d("2018-12-01"), d("2019-01-01")));
        assert_eq!(m.label(WindowSize::Month), "2018-12");
        let days = windows_between(WindowSize::Day, d("2018-11-30"), d("2018-12-02"));
        assert_eq!(days.len(), 3);
        let months = windows_between(WindowSize::Month, d("2018-11-30"), d("2019-01-01"));
        assert_eq!(months.len(), 3);
    }

    #[test]
    fn files_are_dated_by_name_and_ranges_are_half_open() {
        let name = "log_data/2018/11/2018-11-05-events.json";
        let day = day_of_file(name).unwrap();
        assert_eq!(day * DAY_MS, parse_instant("2018-11-05").unwrap());
        assert_eq!(day_of_file("log_data/events.json"), None);
        let r = TimeRange {
            since: Some(10),
            until: Some(20),
        };
        assert!(r.contains(10) && r.contains(19) && !r.contains(20) && !r.contains(9));
        assert!(r.overlaps(19, 30) && !r.overlaps(20, 30) && !r.overlaps(0, 10));
    }
}
