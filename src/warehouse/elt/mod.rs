//! ELT mode (`etl --mode elt`): the warehouse builds the star schema itself.
//!
//! The raw JSON is staged in the warehouse as it is — `staging_events` and `staging_songs` — and the
//! five tables are built there with `INSERT … SELECT` under the same rules as sparkify's Rust
//! transform (song match, duplicate events, latest level, time breakdown, `songplay_id`), then
//! replaced or merged into the final tables in one transaction with the same statements as a
//! Parquet load. This is the design for inputs larger than one machine should transform.
//!
//! - **Redshift**: `COPY … FORMAT AS JSON 's3://…/log_json_path.json'` and `JSON 'auto'` stage the
//!   input straight from S3; sparkify only sends statements.
//! - **PostgreSQL**: it cannot read S3 or JSON files, so sparkify stages the input itself (its own
//!   parser, binary `COPY`) and the same SQL builds the tables. The tests run this path on the real
//!   data and require the result to equal the Rust transform's, table for table and row for row:
//!   two independent implementations of the rules checking each other.
//!
//! Where the SQL cannot follow the Rust transform exactly — both need an input order that COPY
//! does not keep — it decides by the rows' values instead: one `song_id` in several files with
//! different attributes, events with the same `(ts, userId, sessionId, itemInSession)` but
//! different content, and a user's two latest events in the same millisecond and session position.
//! The real data has none of these.

pub mod execute;
pub mod sql;
pub mod staging;

use std::fmt::Write as _;
use std::sync::Arc;

use self::execute::{EltReport, LocalInput, Staged};
use self::sql::{EltSql, S3Input};
use crate::config::Config;
use crate::plan::{Location, TransformPlan};
use crate::schema::{ARTISTS, SONGPLAYS, SONGS, TIME, USERS};
use crate::sink::rejects::write_rejects;
use crate::source::Source;
use crate::summary::{EtlSummary, LoadSummary, LoadedTable, TableSummary};
use crate::warehouse::postgres::PgTarget;
use crate::warehouse::sql::WriteMode;
use crate::{Error, Result};

/// The Redshift COPY sources of a plan: its `s3://` input root (from `--input` or `[S3] LOG_DATA`
/// and `SONG_DATA`), `[S3] LOG_JSONPATH`, `[IAM_ROLE] ARN` and `[S3] INPUT_REGION` (else `REGION`).
pub fn redshift_input(config: &Config, plan: &TransformPlan) -> Result<S3Input> {
    let Location::S3(root) = &plan.input else {
        return Err(Error::Usage(
            "--mode elt on Redshift loads the raw JSON with COPY from S3: give --input \
             s3://bucket/prefix, or [S3] LOG_DATA and SONG_DATA in the config"
                .into(),
        ));
    };
    let root = root.trim_end_matches('/');
    let jsonpaths = config.require("S3", "LOG_JSONPATH")?;
    let role = config.require("IAM_ROLE", "ARN")?;
    let region = config.input_region();
    Ok(S3Input::new(
        &format!("{root}/log_data"),
        &format!("{root}/song_data"),
        &jsonpaths,
        &role,
        region.as_deref(),
        plan.max_bad_records,
    )
    .map_err(crate::warehouse::exec::ExecError::from)?)
}

/// Runs the ELT load on Redshift: COPY from S3 into temporary staging tables, build, load.
pub fn elt_redshift(
    target: &crate::warehouse::redshift::RedshiftTarget,
    config: &Config,
    plan: &TransformPlan,
    mode: WriteMode,
) -> Result<EtlSummary> {
    let sql = EltSql::redshift(mode, &target.session(), redshift_input(config, plan)?);
    let target = &target.connection;
    let report = crate::runtime()?.block_on(async {
        let mut client = target.connect().await?;
        execute::execute(&mut client, &sql, None, &mut Staged::default()).await
    })?;
    let mut summary = summary(&plan.input.to_string(), "redshift", &report, None);
    summary.output = format!("redshift ({})", target.endpoint());
    Ok(summary)
}

/// Runs the ELT load on PostgreSQL: sparkify parses the input into temporary staging tables, the
/// SQL builds and loads the star schema. Rejected records are written to
/// `<output>/_rejects/part-00000.ndjson` when the output is a local folder; no Parquet is written.
pub fn elt_postgres(
    target: &PgTarget,
    plan: &TransformPlan,
    mode: WriteMode,
    progress: &crate::Progress,
) -> Result<EtlSummary> {
    let source: Arc<dyn Source> = plan.open_source()?.into();
    let (song_files, log_files) = crate::source::list_input(source.as_ref())?;
    let input = LocalInput {
        source: source.clone(),
        song_files,
        log_files,
        max_bad_records: plan.max_bad_records,
        progress: *progress,
    };
    let sql = EltSql::postgres(mode, target.session());
    let mut staged = Staged::default();
    let outcome = crate::runtime()?.block_on(async {
        let mut client = target.connect().await?;
        execute::execute(&mut client, &sql, Some(&input), &mut staged).await
    });
    let rejects: Vec<_> = staged.rejects().cloned().collect();
    let rejects_file = match (&plan.output, rejects.is_empty()) {
        (Location::Local(dir), false) => write_rejects(dir, &rejects)?,
        _ => None,
    };
    let report = match outcome {
        Err(Error::TooManyRejects {
            count, max, first, ..
        }) => {
            return Err(Error::TooManyRejects {
                count,
                max,
                first,
                kept: rejects_file.map_or_else(
                    || "(not kept: the output is not a local folder)".into(),
                    |f| f.display().to_string(),
                ),
            })
        }
        other => other?,
    };
    let mut summary = summary(
        &source.describe(),
        &target.to_string(),
        &report,
        Some(&staged),
    );
    summary.rejects_file = rejects_file.map(|f| f.display().to_string());
    Ok(summary)
}

/// The run summary of an ELT run, in the shape of a transform run's (`--json`, and the input of
/// `check --expect-summary`): `tables[].rows` are the rows built this run, files and bytes are 0.
pub fn summary(
    input: &str,
    target: &str,
    report: &EltReport,
    staged: Option<&Staged>,
) -> EtlSummary {
    let c = report.counts;
    let built = |name: &str| report.table(name).map_or(0, |t| t.built);
    let songplays = built(SONGPLAYS.name);
    let (event_lines, rejected_events, rejected) = match staged {
        Some(s) => (
            s.events.records,
            s.events.rejects.len() as u64,
            s.rejects().count() as u64,
        ),
        None => (c.events, 0, 0),
    };
    let mut truncated = std::collections::BTreeMap::new();
    if let Some(s) = staged {
        for cuts in [&s.songs.cuts, &s.events.cuts] {
            for (k, v) in &cuts.0 {
                *truncated.entry(k.clone()).or_default() += v;
            }
        }
    }
    EtlSummary {
        input: input.to_owned(),
        output: target.to_owned(),
        song_files: staged.map_or(0, |s| s.songs.files),
        log_files: staged.map_or(0, |s| s.events.files),
        skipped_files: Vec::new(),
        input_bytes: staged.map_or(0, |s| s.songs.bytes + s.events.bytes),
        song_records: staged.map_or(c.song_records, |s| s.songs.records),
        duplicate_songs: c.song_records.saturating_sub(c.songs),
        event_lines,
        other_events: event_lines
            .saturating_sub(c.song_plays)
            .saturating_sub(rejected_events),
        out_of_range_events: 0,
        windows: None,
        duplicate_events: c.song_plays.saturating_sub(songplays),
        matched_songplays: c.matched,
        rejected,
        rejected_events,
        truncated,
        tables: [&SONGPLAYS, &USERS, &SONGS, &ARTISTS, &TIME]
            .iter()
            .map(|t| TableSummary {
                name: t.name.to_owned(),
                rows: built(t.name),
                files: 0,
                bytes: 0,
            })
            .collect(),
        stages: report.stages.clone(),
        rejects_file: None,
        load: Some(LoadSummary {
            target: target.to_owned(),
            mode: report.mode.to_string(),
            tables: report
                .tables
                .iter()
                .map(|t| LoadedTable {
                    name: t.table.to_owned(),
                    staged: t.built,
                    deleted: t.deleted,
                    inserted: t.inserted,
                })
                .collect(),
        }),
    }
}

/// The human-readable summary of an ELT execution: what the warehouse built and staged, then
/// the counts every summary ends with.
pub fn render(s: &EtlSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "sparkify elt: {} -> {}", s.input, s.output);
    let _ = writeln!(
        out,
        "built in the warehouse (INSERT … SELECT from staging):"
    );
    let _ = writeln!(out, "{:<12} {:>12}", "table", "rows");
    for t in &s.tables {
        let _ = writeln!(out, "{:<12} {:>12}", t.name, t.rows);
    }
    let _ = writeln!(
        out,
        "staged: {} song records ({} files, {} duplicate song ids), {} event lines ({} files), {:.1} MB",
        s.song_records,
        s.song_files,
        s.duplicate_songs,
        s.event_lines,
        s.log_files,
        s.input_bytes as f64 / 1e6
    );
    s.render_counts(&mut out);
    out
}
