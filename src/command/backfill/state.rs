//! What a windowed run records and takes back on `--resume`: the state file [`STATE_FILE`]
//! inside the output (the flags of the run and the end of the last window published), the users
//! of the published `users` table, and the event rejects of the windows published before.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};

use super::BackfillError;
use crate::schema::USERS;
use crate::sink::rejects::{REJECTS_DIR, REJECTS_FILE};
use crate::transform::users::UserTracker;
use crate::window::{WindowSize, STATE_FILE};
use crate::{Error, Result};

/// What [`STATE_FILE`] holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct State {
    /// The input read.
    pub(super) input: String,
    /// The window size.
    pub(super) window: WindowSize,
    /// `--since`/`--until`.
    pub(super) range: crate::window::TimeRange,
    /// The end (epoch ms) of the last window published: windows ending at or before it are done.
    pub(super) done_until: i64,
}

impl State {
    pub(super) fn flags(&self) -> String {
        format!(
            "--input {} --window {} and events in {}",
            self.input, self.window, self.range
        )
    }
}

pub(super) fn read_state(output: &Path) -> Result<Option<State>> {
    let path = output.join(STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(state_error(&path, e.to_string())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| state_error(&path, e.to_string()))
}

/// Writes `state` to `path`, flushed to disk.
pub(super) fn write_state(path: &Path, state: &State) -> Result<()> {
    use std::io::Write;
    let text = serde_json::to_string(state).map_err(|e| state_error(path, e.to_string()))?;
    let mut file = std::fs::File::create(path).map_err(crate::sink::io_error(path))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(crate::sink::io_error(path))?;
    Ok(())
}

fn state_error(path: &Path, reason: String) -> Error {
    BackfillError::State {
        path: path.to_path_buf(),
        reason,
    }
    .into()
}

/// The users a published output holds.
pub(super) fn read_users(output: &Path) -> Result<UserTracker> {
    let dir = output.join(USERS.name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(crate::sink::io_error(&dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    let mut batches: Vec<RecordBatch> = Vec::new();
    for path in &files {
        let fail = |reason: String| BackfillError::Users {
            path: path.clone(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| fail(e.to_string()))?;
        for batch in reader {
            batches.push(batch.map_err(|e| fail(e.to_string()))?);
        }
    }
    let all = arrow::compute::concat_batches(&USERS.arrow_schema(), &batches)?;
    Ok(UserTracker::from_batch(&all)?)
}

/// Event rejects the windows an earlier run published hold (lines of `_rejects/` other than the
/// catalogue's file, which this run rewrites), counted against `--max-bad-records`.
pub(super) fn previous_rejects(output: &Path, resumed: bool) -> Result<u64> {
    if !resumed {
        return Ok(0);
    }
    let dir = output.join(REJECTS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let mut lines = 0;
    for entry in entries.flatten() {
        if entry.file_name() == REJECTS_FILE {
            continue;
        }
        let bytes = std::fs::read(entry.path()).map_err(crate::sink::io_error(entry.path()))?;
        lines += memchr::memchr_iter(b'\n', &bytes).count() as u64;
    }
    Ok(lines)
}
