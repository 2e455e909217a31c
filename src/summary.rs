//! The accounting of `etl` and `transform`: what was read, kept, dropped and written, and how long each stage took.
//!
//! The identity `event lines = songplays + other events + duplicates + rejected` always holds and is
//! printed, so no record can disappear unaccounted.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// One output table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSummary {
    /// Table name.
    pub name: String,
    /// Rows written.
    pub rows: u64,
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Everything an `etl` or `transform` did, for the summary table and `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EtlSummary {
    /// Where the input came from.
    pub input: String,
    /// Where the output went.
    pub output: String,
    /// Song files read.
    pub song_files: u64,
    /// Log files read.
    pub log_files: u64,
    /// Entries named like input files that were skipped unread because they are not regular
    /// files (named pipes, devices, sockets, links to them), by name.
    pub skipped_files: Vec<String>,
    /// Bytes of input read (decompressed).
    pub input_bytes: u64,
    /// Song records seen (accepted and rejected).
    pub song_records: u64,
    /// Song records that repeated a song id.
    pub duplicate_songs: u64,
    /// Non-blank log lines seen.
    pub event_lines: u64,
    /// Events that are not song plays (they still feed `users`).
    pub other_events: u64,
    /// Events outside `--since`/`--until` in the log files read (files named for days outside
    /// the range are not read at all).
    pub out_of_range_events: u64,
    /// Windows processed and published by this run (`--window`), and windows skipped because
    /// an earlier run published them (`--resume`).
    pub windows: Option<WindowCounts>,
    /// Song plays that repeated an event already seen.
    pub duplicate_events: u64,
    /// Song plays matched to a catalogue song.
    pub matched_songplays: u64,
    /// Records rejected (songs and events).
    pub rejected: u64,
    /// Rejected log lines (part of `rejected`).
    pub rejected_events: u64,
    /// Text values cut to their column's byte width, per `table.column`.
    pub truncated: BTreeMap<String, u64>,
    /// Output tables.
    pub tables: Vec<TableSummary>,
    /// Seconds per stage, in order.
    pub stages: Vec<(String, f64)>,
    /// The rejects file, when there were rejects.
    pub rejects_file: Option<String>,
    /// What was loaded into a warehouse, when the run had a target.
    pub load: Option<LoadSummary>,
}

/// The windows of a windowed run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WindowCounts {
    /// Windows processed and published by this run.
    pub done: u64,
    /// Windows an earlier run had published, skipped (`--resume`).
    pub skipped: u64,
}

/// A warehouse load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadSummary {
    /// The target, password redacted.
    pub target: String,
    /// `replace` or `merge`.
    pub mode: String,
    /// Per table: rows staged, deleted and inserted.
    pub tables: Vec<LoadedTable>,
}

/// One table of a warehouse load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadedTable {
    /// Table name.
    pub name: String,
    /// Rows copied into the stage table (verified against the Parquet row count).
    pub staged: u64,
    /// Rows deleted from the target.
    pub deleted: u64,
    /// Rows inserted into the target.
    pub inserted: u64,
}

impl LoadSummary {
    /// Renders the load as table lines.
    pub fn render(&self) -> String {
        let mut s = format!(
            "loaded into {} ({}, one transaction):\n",
            self.target, self.mode
        );
        for t in &self.tables {
            let _ = writeln!(
                s,
                "  {:<12} {:>12} staged {:>12} deleted {:>12} inserted",
                t.name, t.staged, t.deleted, t.inserted
            );
        }
        s
    }
}

/// The counts of streamed events.
#[derive(Debug, Default)]
pub(crate) struct EventCounts {
    pub lines: u64,
    /// Events outside the range or window kept.
    pub outside: u64,
    pub song_plays: u64,
    pub matched: u64,
    pub bytes: u64,
    /// Rejected lines (and unreadable files).
    pub rejected: u64,
    /// Song plays dropped as duplicates.
    pub duplicates: u64,
    pub truncations: crate::transform::text::Truncations,
}

impl EventCounts {
    /// Adds these counts to `summary` and the text cuts to `cuts`.
    pub fn count_into(
        &self,
        summary: &mut EtlSummary,
        cuts: &mut crate::transform::text::Truncations,
    ) {
        summary.event_lines += self.lines;
        summary.rejected_events += self.rejected;
        summary.out_of_range_events += self.outside;
        summary.other_events += self.lines - self.song_plays - self.rejected - self.outside;
        summary.duplicate_events += self.duplicates;
        summary.matched_songplays += self.matched;
        summary.input_bytes += self.bytes;
        cuts.merge(&self.truncations);
    }
}

impl EtlSummary {
    /// Rows written to `table`.
    pub fn rows(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|t| t.name == table)
            .map_or(0, |t| t.rows)
    }

    /// Whether every event line is accounted for.
    pub fn accounting_holds(&self) -> bool {
        self.event_lines
            == self.rows("songplays")
                + self.other_events
                + self.out_of_range_events
                + self.duplicate_events
                + self.rejected_events
    }

    /// The human-readable summary table.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "sparkify: {} -> {}", self.input, self.output);
        let _ = writeln!(
            s,
            "{:<12} {:>12} {:>6} {:>12}",
            "table", "rows", "files", "bytes"
        );
        for t in &self.tables {
            let _ = writeln!(
                s,
                "{:<12} {:>12} {:>6} {:>12}",
                t.name, t.rows, t.files, t.bytes
            );
        }
        let _ = writeln!(
            s,
            "input: {} song files ({} records, {} duplicate song ids), {} log files, {:.1} MB",
            self.song_files,
            self.song_records,
            self.duplicate_songs,
            self.log_files,
            self.input_bytes as f64 / 1e6
        );
        if !self.skipped_files.is_empty() {
            let _ = writeln!(
                s,
                "skipped: {} entries that are not regular files (named pipes, devices, sockets), e.g. {}",
                self.skipped_files.len(),
                self.skipped_files[0]
            );
        }
        self.render_counts(&mut s);
        s
    }

    /// The lines every summary ends with (a transform's and an ELT's): the event accounting,
    /// matches, rejects, text cuts, stage times and the load.
    pub fn render_counts(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "events: {} lines = {} songplays + {} other events + {} duplicates + {} rejected{}{}",
            self.event_lines,
            self.rows("songplays"),
            self.other_events,
            self.duplicate_events,
            self.rejected_events,
            if self.out_of_range_events > 0 {
                format!(" + {} outside --since/--until", self.out_of_range_events)
            } else {
                String::new()
            },
            if self.accounting_holds() {
                ""
            } else {
                "  (MISMATCH)"
            }
        );
        if let Some(w) = &self.windows {
            let _ = writeln!(
                s,
                "windows: {} published by this run, {} skipped (published before)",
                w.done, w.skipped
            );
        }
        let _ = writeln!(
            s,
            "matched songplays: {}   rejected records: {}   truncated values: {}",
            self.matched_songplays,
            self.rejected,
            self.truncated.values().sum::<u64>()
        );
        for (col, n) in &self.truncated {
            let _ = writeln!(s, "  truncated {col}: {n}");
        }
        if let Some(f) = &self.rejects_file {
            let _ = writeln!(s, "rejects: {f}");
        }
        let stages: Vec<String> = self
            .stages
            .iter()
            .map(|(name, secs)| format!("{name} {secs:.2}s"))
            .collect();
        let _ = writeln!(s, "time: {}", stages.join(", "));
        if let Some(load) = &self.load {
            s.push_str(&load.render());
        }
    }
}
