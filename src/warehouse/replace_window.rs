//! `--write replace-window`: each load of a run replaces, in the warehouse, the song plays and
//! time rows of the range its events were selected from, and merges the dimensions.
//!
//! A load's range is what the run read: the window's part of `--since`/`--until` for a windowed
//! run (`--window`), `[since, until)` for a one-shot run. Without such a bounded range there is
//! nothing a replace of "the processed range" could mean, so the run is refused before anything
//! is read or touched; so is the local Parquet target, whose output every run replaces whole.

use crate::plan::TransformPlan;
use crate::warehouse::sql::{StartRange, WriteMode};
use crate::window::TimeRange;
use crate::{Error, Result};

/// What one load of a run holds: whether it starts the run's data (the only load a `replace` may
/// empty the tables for), and the range of event times its rows were selected from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadScope {
    /// Whether this is the run's first load (a one-shot run's only one, or its first window).
    pub starts: bool,
    /// The events the load's rows come from: the run's `--since`/`--until`, within the window.
    pub range: TimeRange,
}

impl LoadScope {
    /// The window replace of this load's range; a usage error when the range is open at an end.
    pub fn replace_window(&self) -> Result<WriteMode> {
        self.start_range().map(WriteMode::ReplaceWindow)
    }

    /// This load's range as the `start_time` range a window replace clears.
    pub fn start_range(&self) -> Result<StartRange> {
        match (self.range.since, self.range.until) {
            (Some(since), Some(until)) => StartRange::new(since, until)
                .map_err(|e| Error::Usage(format!("--write replace-window: {e}"))),
            _ => Err(Error::Usage(format!(
                "--write replace-window needs a bounded range, not {}: give both --since and \
                 --until (etl also takes --window)",
                self.range
            ))),
        }
    }
}

/// Refuses `etl --write replace-window` where it has no meaning, before anything is read or
/// touched: with no bounded range (neither `--window` nor both `--since` and `--until`), with the
/// local Parquet target (`local_target`), or with `--mode elt` (`elt`), where the warehouse, not
/// sparkify, selects the events.
pub fn check_etl(plan: &TransformPlan, local_target: bool, elt: bool) -> Result<()> {
    if elt {
        return Err(Error::Usage(
            "--write replace-window replaces the range of events sparkify reads; --mode elt has \
             the warehouse read them (use --mode transform)"
                .into(),
        ));
    }
    if local_target {
        return Err(local_refused());
    }
    let bounded = plan.range.since.is_some() && plan.range.until.is_some();
    if plan.window.is_none() && !bounded {
        return Err(Error::Usage(
            "--write replace-window needs the range it replaces: give --window day|week|month, \
             or both --since and --until"
                .into(),
        ));
    }
    Ok(())
}

/// The refusal of a window replace into the local Parquet target.
pub fn local_refused() -> Error {
    Error::Usage(
        "--write replace-window replaces a range in a warehouse (--target postgres://… or \
         redshift); the local Parquet output is rewritten whole by every run"
            .into(),
    )
}

/// What `--dry-run` prints for the loads of a window replace: `describe`'s text for the first
/// load (its statements), then the range of each later one (the input's log files are listed to
/// find the windows, as the run does).
pub fn describe_loads(
    plan: &TransformPlan,
    describe: impl Fn(WriteMode) -> Result<String>,
) -> Result<String> {
    let ranges = match plan.window {
        None => vec![plan.range],
        Some(size) => crate::command::backfill::planned_windows(plan, size)?
            .iter()
            .map(|w| plan.range.within(w.start, w.end))
            .collect(),
    };
    let mut out = String::new();
    for (at, range) in ranges.into_iter().enumerate() {
        let scope = LoadScope {
            starts: at == 0,
            range,
        };
        if at == 0 {
            out.push_str(&describe(scope.replace_window()?)?);
        } else {
            let range = scope.start_range()?;
            out.push_str(&format!(
                "-- then the same load, in its own transaction, for {range}\n"
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_needs_both_ends() {
        let scope = |since, until| LoadScope {
            starts: false,
            range: TimeRange { since, until },
        };
        let day = 86_400_000;
        match scope(Some(day), Some(2 * day)).replace_window().unwrap() {
            WriteMode::ReplaceWindow(r) => assert_eq!(r.to_string(), "[1970-01-02, 1970-01-03)"),
            other => panic!("{other:?}"),
        }
        for (since, until) in [(Some(day), None), (None, Some(day)), (None, None)] {
            let e = scope(since, until).replace_window().unwrap_err();
            assert!(matches!(e, Error::Usage(_)), "{e}");
        }
        let e = scope(Some(i64::MIN), Some(day))
            .replace_window()
            .unwrap_err();
        assert!(e.to_string().contains("year"), "{e}");
    }
}
