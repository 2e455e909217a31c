//! `sparkify report`: the page's figures equal the queries' results, and every chart renders in a
//! real headless Chromium (`--dump-dom`): one `<svg>` per analytics query holding its bars and the
//! query's numbers as labels. The same page comes from PostgreSQL.
//!
//! Chromium is Debian's `chromium` package (`.ci/run` installs it). Without it the browser half is
//! skipped loudly, unless `CI=true`, where that is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::pg::TestPg;
use common::{copy_dir, sample, sparkify, sparkify_ok};

/// `etl` of the sample into `cwd/w`, and into `target` when given.
fn etl(cwd: &Path, target: Option<&str>) {
    let input = sample();
    let mut args = vec!["etl", "--input", input.to_str().unwrap(), "--output", "w"];
    if let Some(url) = target {
        args.extend(["--target", url, "--write", "replace"]);
    }
    sparkify_ok(cwd, &args);
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The first cell of an ad-hoc query on the local output `w`.
fn scalar(cwd: &Path, sql: &str) -> String {
    let out = json(&sparkify_ok(
        cwd,
        &["query", "--sql", sql, "--input", "w", "--json"],
    ));
    out["rows"][0][0].as_str().unwrap().to_owned()
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The Chromium binary, or `None` after a loud message (a panic under `CI=true`).
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|n| find_in_path(n));
    if found.is_none() {
        let msg = "chromium not found on PATH: the report is not opened in a browser";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg} (CI=true; `.ci/run` installs Debian's chromium package)");
        }
        eprintln!("\n!!! SKIPPED: {msg}. Install it with `apt-get install chromium`.\n");
    }
    found
}

/// The DOM Chromium builds from `page`, serialised after loading.
fn dump_dom(chromium: &Path, page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The part of `html` from `start` to the next `end` (inclusive).
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in the page"));
    let to = html[from..]
        .find(end)
        .map_or(html.len(), |i| from + i + end.len());
    &html[from..to]
}

/// The trimmed contents of every `<text>` element in `svg`.
fn texts(svg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find("<text") {
        let after = &rest[open..];
        let body = &after[after.find('>').unwrap() + 1..];
        let close = body.find("</text>").unwrap();
        out.push(body[..close].trim().to_owned());
        rest = &body[close..];
    }
    out
}

/// A headline figure's value.
fn figure(html: &str, name: &str) -> String {
    let div = between(html, &format!("data-figure=\"{name}\""), "</div>");
    let value = between(div, "<span class=\"value\">", "</span>");
    value["<span class=\"value\">".len()..value.len() - "</span>".len()].to_owned()
}

/// The labels a query's chart must show: each row's value as the query printed it.
fn expected_labels(name: &str, result: &serde_json::Value) -> Vec<String> {
    let columns: Vec<&str> = result["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let col = |n: &str| columns.iter().position(|c| *c == n).unwrap();
    result["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let cell = |n: &str| r[col(n)].as_str().unwrap().to_owned();
            match name {
                "free_vs_paid" => format!("{} ({}%)", cell("plays"), cell("pct_of_plays")),
                "users_by_level" => cell("users"),
                _ => cell("plays"),
            }
        })
        .collect()
}

/// Asserts every chart of `html` shows its query's numbers (from `query NAME --json`), and every
/// headline figure equals an independent query's count.
fn assert_page_shows_the_queries(cwd: &Path, html: &str) {
    let listed = sparkify_ok(cwd, &["query", "--list"]);
    for name in listed.lines().filter_map(|l| l.split_whitespace().next()) {
        let result = json(&sparkify_ok(
            cwd,
            &["query", name, "--input", "w", "--json"],
        ));
        let chart = between(html, &format!("id=\"chart-{name}\""), "</figure>");
        assert_eq!(chart.matches("<svg").count(), 1, "{name}: one svg");
        assert!(
            chart.contains("viewBox=\"0 0 ") && chart.contains("width=\"100%\""),
            "{name}"
        );
        let rows = result["rows"].as_array().unwrap().len();
        // A background, then at least one bar per row.
        assert!(
            chart.matches("<rect").count() > rows,
            "{name}: bars missing"
        );
        let labels = texts(chart);
        let title = between(chart, "aria-label=\"", "\" ");
        let title = &title["aria-label=\"".len()..title.len() - 2];
        assert!(
            labels.iter().any(|t| t == title),
            "{name}: title {title:?} not drawn"
        );
        for want in expected_labels(name, &result) {
            assert!(
                labels.contains(&want),
                "{name}: label {want} missing from {labels:?}"
            );
        }
        assert!(
            labels.iter().any(|t| t == "song plays" || t == "users"),
            "{name}: axis"
        );
    }
    for (figure_name, sql) in [
        ("songplays", "SELECT COUNT(*) FROM songplays"),
        (
            "matched_plays",
            "SELECT COUNT(*) FROM songplays WHERE song_id IS NOT NULL",
        ),
        (
            "listeners",
            "SELECT COUNT(*) FROM (SELECT DISTINCT user_id FROM songplays) u",
        ),
        ("rows_users", "SELECT COUNT(*) FROM users"),
        ("rows_songs", "SELECT COUNT(*) FROM songs"),
        ("rows_artists", "SELECT COUNT(*) FROM artists"),
        ("rows_time", "SELECT COUNT(*) FROM time"),
        ("rows_songplays", "SELECT COUNT(*) FROM songplays"),
        (
            "first_play",
            "SELECT CAST(CAST(MIN(start_time) AS DATE) AS VARCHAR) FROM songplays",
        ),
        (
            "last_play",
            "SELECT CAST(CAST(MAX(start_time) AS DATE) AS VARCHAR) FROM songplays",
        ),
    ] {
        assert_eq!(figure(html, figure_name), scalar(cwd, sql), "{figure_name}");
    }
    assert_eq!(figure(html, "songplays"), "6820");
}

#[test]
fn report_shows_the_query_results_and_every_chart_renders_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    etl(cwd, None);
    let out = sparkify_ok(cwd, &["report", "--input", "w", "--output", "r.html"]);
    assert_eq!(out, "wrote r.html: 8 charts; 30 of 30 checks passed\n");
    let page = std::fs::read_to_string(cwd.join("r.html")).unwrap();
    for remote in ["src=", "href=", "url(", "@import", "<script", "<link"] {
        assert!(!page.contains(remote), "the page loads nothing: {remote}");
    }
    assert!(page.contains("<section class=\"verdict\" data-passed=\"true\">"));
    assert!(page.contains("Data quality: all 30 checks passed"));
    assert_page_shows_the_queries(cwd, &page);
    // The sample has no bad records: `_rejects/` is there, and empty.
    assert_eq!(
        std::fs::read_dir(cwd.join("w/_rejects")).unwrap().count(),
        0
    );
    assert_eq!(figure(&page, "rejects"), "0");

    let Some(chromium) = chromium() else { return };
    let dom = dump_dom(&chromium, &cwd.join("r.html"));
    assert!(dom.contains("<section class=\"verdict\" data-passed=\"true\">"));
    assert_eq!(dom.matches("<figure class=\"chart").count(), 8, "{dom}");
    assert_page_shows_the_queries(cwd, &dom);
}

#[test]
fn report_on_postgresql_draws_the_same_charts() {
    let Some(pg) = TestPg::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = pg.url_for(&rt.block_on(pg.create_database("report")));
    sparkify_ok(cwd, &["create-tables", "--target", &url]);
    etl(cwd, Some(&url));
    sparkify_ok(cwd, &["report", "--target", &url, "--output", "pg.html"]);
    sparkify_ok(cwd, &["report", "--input", "w", "--output", "local.html"]);
    let pg_page = std::fs::read_to_string(cwd.join("pg.html")).unwrap();
    let local_page = std::fs::read_to_string(cwd.join("local.html")).unwrap();
    assert!(pg_page.contains("Tables read from PostgreSQL at postgres://postgres@127.0.0.1:"));
    assert!(pg_page.contains("rejected records: not kept in the warehouse"));
    assert_eq!(figure(&pg_page, "rejects"), "–");
    let charts = |page: &str| between(page, "<section class=\"charts\">", "</section>").to_owned();
    assert_eq!(charts(&pg_page), charts(&local_page));
    let verdict = |page: &str| between(page, "<section class=\"verdict\"", "</section>").to_owned();
    assert_eq!(verdict(&pg_page), verdict(&local_page));
    assert_page_shows_the_queries(cwd, &pg_page);
}

#[test]
fn report_of_a_damaged_output_shows_the_failed_check_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    etl(cwd, None);
    copy_dir(&cwd.join("w"), &cwd.join("bad"));
    let songs = cwd.join("bad/songs");
    std::fs::copy(
        songs.join("part-00000.parquet"),
        songs.join("part-00001.parquet"),
    )
    .unwrap();
    let out = sparkify(cwd, &["report", "--input", "bad", "--output", "bad.html"]);
    assert_eq!(out.status.code(), Some(1));
    let page = std::fs::read_to_string(cwd.join("bad.html")).unwrap();
    let verdict = between(
        &page,
        "<section class=\"verdict\" data-passed=\"false\">",
        "</section>",
    );
    assert!(
        verdict.contains("Data quality: 1 of 30 checks failed"),
        "{verdict}"
    );
    assert!(
        verdict.contains("<td>duplicate_key</td><td>songs</td>"),
        "{verdict}"
    );

    // A folder that does not exist: nothing written, one line, exit 2.
    let out = sparkify(cwd, &["report", "--input", "w", "--output", "no/r.html"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: cannot write the report no/r.html"),
        "{err}"
    );
    assert!(!cwd.join("no").exists());
}
