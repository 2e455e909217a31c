//! Each analytics query's result as a chart: which columns name the bars, which give their length,
//! and what the axes say. Labels are the query's own text, so the page shows its exact numbers.

use super::charts::{BarChart, Orientation, Series, PALETTE};
use super::ReportError;
use crate::warehouse::query::QueryResult;

/// A result's columns by name, and its cells as text or counts.
struct Columns<'a> {
    result: &'a QueryResult,
}

impl<'a> Columns<'a> {
    fn index(&self, name: &str) -> Result<usize, ReportError> {
        self.result
            .rows
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| self.shape(format!("no column {name}")))
    }

    fn shape(&self, reason: String) -> ReportError {
        ReportError::Shape {
            query: self.result.query,
            reason,
        }
    }

    /// Column `name` as text; NULL as `unknown`.
    fn text(&self, name: &str) -> Result<Vec<String>, ReportError> {
        let i = self.index(name)?;
        Ok(self
            .result
            .rows
            .rows
            .iter()
            .map(|r| {
                r.get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| "unknown".into())
            })
            .collect())
    }

    /// Column `name` as counts, each with its text.
    fn counts(&self, name: &str) -> Result<Vec<(u64, String)>, ReportError> {
        let i = self.index(name)?;
        self.result
            .rows
            .rows
            .iter()
            .map(|r| {
                let text = r.get(i).cloned().flatten().unwrap_or_default();
                let n = text
                    .parse()
                    .map_err(|_| self.shape(format!("{name} {text:?} is not a count")))?;
                Ok((n, text))
            })
            .collect()
    }
}

/// The size of a ranking chart with `n` bars.
fn ranking_size(n: usize) -> (u32, u32) {
    (640, 130 + 36 * n.max(2) as u32)
}

fn one_series(name: &str, values: Vec<(u64, String)>) -> Vec<Series> {
    vec![Series {
        name: name.into(),
        color: PALETTE[0],
        values,
    }]
}

/// The chart of `result`, by query name; `None` for a query the page does not chart.
pub fn chart(result: &QueryResult) -> Result<Option<BarChart>, ReportError> {
    let c = Columns { result };
    let n = result.rows.rows.len();
    let bars = |title: &str, categories, value_axis: &str, category_axis: &str, series, o, size| {
        BarChart {
            title: title.to_owned(),
            category_axis: category_axis.to_owned(),
            value_axis: value_axis.to_owned(),
            categories,
            series,
            orientation: o,
            size,
        }
    };
    use Orientation::{Horizontal, Vertical};
    Ok(Some(match result.query {
        "plays_by_hour" => bars(
            "Song plays by hour of the day (UTC)",
            c.text("hour")?,
            "song plays",
            "hour of the day (UTC)",
            one_series("plays", c.counts("plays")?),
            Vertical,
            (1280, 420),
        ),
        "plays_by_weekday" => bars(
            "Song plays by day of the week",
            c.text("day")?,
            "song plays",
            "day of the week",
            one_series("plays", c.counts("plays")?),
            Vertical,
            (640, 400),
        ),
        "top_songs" => {
            let titles = c.text("title")?;
            let artists = c.text("artist")?;
            let names = titles
                .iter()
                .zip(&artists)
                .map(|(t, a)| format!("{t} — {a}"))
                .collect();
            let plays = one_series("plays", c.counts("plays")?);
            bars(
                "Most played songs",
                names,
                "song plays",
                "song — artist",
                plays,
                Horizontal,
                ranking_size(n),
            )
        }
        "top_artists" => bars(
            "Most played artists",
            c.text("artist")?,
            "song plays",
            "artist",
            one_series("plays", c.counts("plays")?),
            Horizontal,
            ranking_size(n),
        ),
        "busiest_users" => {
            let first = c.text("first_name")?;
            let last = c.text("last_name")?;
            let ids = c.text("user_id")?;
            let names = (0..n)
                .map(|i| format!("{} {} (#{})", first[i], last[i], ids[i]))
                .collect();
            let plays = one_series("plays", c.counts("plays")?);
            bars(
                "Busiest users",
                names,
                "song plays",
                "user",
                plays,
                Horizontal,
                ranking_size(n),
            )
        }
        "free_vs_paid" => {
            let levels = c.text("level")?;
            let listeners = c.text("listeners")?;
            let pct = c.text("pct_of_plays")?;
            let names = levels
                .iter()
                .zip(&listeners)
                .map(|(l, n)| format!("{l} ({n} listeners)"))
                .collect();
            let values = c
                .counts("plays")?
                .into_iter()
                .zip(&pct)
                .map(|((v, t), p)| (v, format!("{t} ({p}%)")))
                .collect();
            let plays = one_series("plays", values);
            bars(
                "Free vs paid listening",
                names,
                "song plays",
                "level when playing",
                plays,
                Vertical,
                (640, 400),
            )
        }
        "top_locations" => bars(
            "Top locations",
            c.text("location")?,
            "song plays",
            "location",
            one_series("plays", c.counts("plays")?),
            Horizontal,
            ranking_size(n),
        ),
        "users_by_level" => {
            let (levels, series) =
                grouped(&c.text("level")?, &c.text("gender")?, c.counts("users")?);
            bars(
                "Users by level and gender",
                levels,
                "users",
                "current level",
                series,
                Vertical,
                (640, 400),
            )
        }
        _ => return Ok(None),
    }))
}

/// Rows of (group, series, value) as one series per distinct `series` value over the distinct
/// `groups`, in first-seen order; a missing combination is a bar of 0.
fn grouped(
    groups: &[String],
    series: &[String],
    values: Vec<(u64, String)>,
) -> (Vec<String>, Vec<Series>) {
    let mut group_names: Vec<String> = Vec::new();
    let mut series_names: Vec<String> = Vec::new();
    for (g, s) in groups.iter().zip(series) {
        if !group_names.contains(g) {
            group_names.push(g.clone());
        }
        if !series_names.contains(s) {
            series_names.push(s.clone());
        }
    }
    let out = series_names
        .iter()
        .enumerate()
        .map(|(k, name)| Series {
            name: name.clone(),
            color: PALETTE[k % PALETTE.len()],
            values: group_names
                .iter()
                .map(|g| {
                    (0..groups.len())
                        .find(|&i| &groups[i] == g && &series[i] == name)
                        .map_or((0, "0".into()), |i| values[i].clone())
                })
                .collect(),
        })
        .collect();
    (group_names, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_fills_missing_combinations_with_zero() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let values = vec![(40, "40".into()), (35, "35".into()), (15, "15".into())];
        let (groups, series) = grouped(&s(&["free", "free", "paid"]), &s(&["F", "M", "F"]), values);
        assert_eq!(groups, s(&["free", "paid"]));
        assert_eq!(series[0].name, "F");
        assert_eq!(series[0].values, vec![(40, "40".into()), (15, "15".into())]);
        assert_eq!(series[1].values, vec![(35, "35".into()), (0, "0".into())]);
    }
}
