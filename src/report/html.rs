//! The report page: one HTML file with its styles and charts inline (no scripts, no network).
//!
//! Elements a test or a scraper can find: each headline figure is `<div class="figure"
//! data-figure="NAME">` holding its value in `<span class="value">`; each chart is `<figure
//! class="chart" id="chart-QUERY">` holding one `<svg>`; the verdict is `<section
//! class="verdict" data-passed="true|false">`.

use std::fmt::Write as _;

use super::analytics::chart;
use super::{Rejects, ReportData, ReportError};

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; --ink: #222; --muted: #666; --line: #e4e4e4; --ok: #2e7d32; --bad: #c62828; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f6f7f9; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 20px 40px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 0 0 12px; font-size: 19px; }
.source { margin: 0 0 20px; color: var(--muted); }
h3 { margin: 0 0 8px; font-size: 14px; color: var(--muted); font-weight: 600; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px; margin-bottom: 18px; align-items: start; }
.figures.small .value { font-size: 19px; }
.figure { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.figure .value { display: block; font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
.figure .label { color: var(--muted); font-size: 13px; }
.verdict { background: #fff; border: 1px solid var(--line); border-left: 6px solid var(--ok); border-radius: 8px; padding: 14px 18px; margin-bottom: 20px; }
.verdict[data-passed="false"] { border-left-color: var(--bad); }
.verdict h2 { color: var(--ok); }
.verdict[data-passed="false"] h2 { color: var(--bad); }
table { border-collapse: collapse; font-size: 13px; margin-top: 8px; }
th, td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid var(--line); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.failed { color: var(--bad); font-weight: 600; }
details { margin-top: 8px; }
summary { cursor: pointer; color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 16px; align-items: start; }
.chart { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
.chart.wide { grid-column: 1 / -1; }
.chart svg { display: block; width: 100%; height: auto; }
.chart figcaption { color: var(--muted); font-size: 12px; padding: 4px 6px 0; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
code { font-size: 12px; }
"#;

/// The charts' order on the page: the day's rhythm across the top, then pairs of equal height.
const PAGE_ORDER: [&str; 8] = [
    "plays_by_hour",
    "plays_by_weekday",
    "free_vs_paid",
    "top_songs",
    "top_artists",
    "busiest_users",
    "top_locations",
    "users_by_level",
];

/// The whole page.
pub fn page(data: &ReportData) -> Result<String, ReportError> {
    let mut out = String::with_capacity(256 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>Sparkify listening report</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<main>\n<h1>Sparkify listening report</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"source\">Tables read from {}.</p>",
        escape(&data.source)
    );
    figures(&mut out, data);
    verdict(&mut out, data);
    out.push_str("<section class=\"charts\">\n");
    let mut results: Vec<_> = data.analytics.iter().collect();
    results.sort_by_key(|r| PAGE_ORDER.iter().position(|&q| q == r.query));
    for result in results {
        let Some(bars) = chart(result)? else { continue };
        let wide = if result.query == "plays_by_hour" {
            " wide"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<figure class=\"chart{wide}\" id=\"chart-{}\" data-query=\"{}\">\n{}<figcaption>{}: {} · <code>sparkify query {}</code></figcaption>\n</figure>",
            result.query,
            result.query,
            bars.to_svg()?,
            escape(result.title),
            match result.rows.rows.len() {
                1 => "1 row".to_owned(),
                n => format!("{n} rows"),
            },
            result.query,
        );
    }
    out.push_str("</section>\n<footer>Made by <code>sparkify report</code>. Every figure and chart is the result of a query that <code>sparkify query</code> runs: <code>sparkify query --list</code> names them.</footer>\n</main>\n</body>\n</html>\n");
    Ok(out)
}

/// One headline figure.
fn figure(out: &mut String, name: &str, value: &str, label: &str) {
    let _ = writeln!(
        out,
        "<div class=\"figure\" data-figure=\"{name}\"><span class=\"value\">{}</span><span class=\"label\">{}</span></div>",
        escape(value),
        escape(label)
    );
}

fn figures(out: &mut String, data: &ReportData) {
    let head = |name: &str| -> String {
        let i = data.headline.columns.iter().position(|c| c == name);
        i.and_then(|i| data.headline.rows.first()?.get(i).cloned().flatten())
            .unwrap_or_else(|| "–".into())
    };
    out.push_str("<h3>The run</h3>\n<section class=\"figures\">\n");
    figure(out, "songplays", &head("songplays"), "song plays");
    let matched = head("matched_plays");
    let share = match (matched.parse::<f64>(), head("songplays").parse::<f64>()) {
        (Ok(m), Ok(all)) if all > 0.0 => format!(" ({:.2}% of plays)", 100.0 * m / all),
        _ => String::new(),
    };
    figure(
        out,
        "matched_plays",
        &matched,
        &format!("plays matched to a catalogue song{share}"),
    );
    figure(out, "listeners", &head("listeners"), "listeners");
    let (rejects, label) = match &data.rejects {
        Rejects::Counted(n) => (n.to_string(), "rejected records (in _rejects/)".to_owned()),
        Rejects::Unknown(why) => ("–".to_owned(), format!("rejected records: {why}")),
    };
    figure(out, "rejects", &rejects, &label);
    let day = |t: String| t.get(..10).map_or(t.clone(), str::to_owned);
    figure(out, "first_play", &day(head("first_play")), "first play");
    figure(out, "last_play", &day(head("last_play")), "last play");
    out.push_str("</section>\n<h3>Rows per table</h3>\n<section class=\"figures small\">\n");
    for (table, rows) in data.table_rows() {
        let rows = rows.map_or_else(|| "–".into(), |n| n.to_string());
        figure(out, &format!("rows_{table}"), &rows, table);
    }
    out.push_str("</section>\n");
}

fn verdict(out: &mut String, data: &ReportData) {
    let r = &data.checks;
    let total = r.checks.len();
    let _ = writeln!(
        out,
        "<section class=\"verdict\" data-passed=\"{}\">\n<h2>{}</h2>",
        r.passed,
        if r.passed {
            format!("Data quality: all {total} checks passed")
        } else {
            format!("Data quality: {} of {total} checks failed", r.failed)
        }
    );
    out.push_str("<p>The checks of <code>sparkify check</code>: every table holds rows; no NULL or duplicate key; every song play's user and time, and its song and artist when known, exist.</p>\n");
    let table = |out: &mut String, only_failed: bool| {
        out.push_str("<table>\n<tr><th>check</th><th>table</th><th>column</th><th>found</th><th>expected</th><th>result</th></tr>\n");
        for o in r.checks.iter().filter(|o| !only_failed || !o.passed) {
            let result = match (&o.detail, o.passed) {
                (_, true) => "ok".to_owned(),
                (Some(d), false) => format!("FAILED ({d})"),
                (None, false) => "FAILED".to_owned(),
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td{}>{}</td></tr>",
                o.check.check,
                o.check.table,
                escape(o.check.column.as_deref().unwrap_or("")),
                o.found.map_or_else(|| "–".into(), |n| n.to_string()),
                escape(&o.check.expected.to_string()),
                if o.passed { "" } else { " class=\"failed\"" },
                escape(&result)
            );
        }
        out.push_str("</table>\n");
    };
    if !r.passed {
        table(out, true);
    }
    out.push_str("<details><summary>Every check</summary>\n");
    table(out, false);
    out.push_str("</details>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">Tom & 'Jerry'</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }
}
