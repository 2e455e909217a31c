//! The rejects file: one JSON object per rejected record (`file`, `line`, `reason`, `raw`, and
//! `raw_bytes` when `raw` holds only the start of the record), written as the records are
//! rejected.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{io_error, Error, Result};
use crate::parse::Reject;

/// Folder of the rejects inside an output.
pub const REJECTS_DIR: &str = "_rejects";

/// Name of the rejects file in [`REJECTS_DIR`].
pub const REJECTS_FILE: &str = "part-00000.ndjson";

/// Rejected records, streamed to `<root>/_rejects/part-00000.ndjson` as they come (the file is
/// created with the first one), counted against a limit.
///
/// Any thread may add rejects; a run asks [`RejectSink::check`] between pieces of work and
/// stops as soon as it fails, so neither memory nor time grows with the number of rejects.
/// Nothing here is touched while no record is rejected.
#[derive(Debug)]
pub struct RejectSink {
    path: PathBuf,
    max: u64,
    count: AtomicU64,
    /// Whether writing failed (the error is in the state).
    failed: AtomicBool,
    state: Mutex<SinkState>,
}

#[derive(Debug, Default)]
struct SinkState {
    out: Option<BufWriter<File>>,
    /// The first reject, `file:line: reason`.
    first: Option<String>,
    /// The first write error; later rejects are counted but not written.
    failed: Option<std::io::Error>,
}

/// What a [`RejectSink`] wrote.
#[derive(Debug, Clone, Default)]
pub struct RejectsWritten {
    /// Records rejected.
    pub count: u64,
    /// The rejects file, when there were rejects.
    pub file: Option<PathBuf>,
    /// The first reject, `file:line: reason`.
    pub first: Option<String>,
}

impl RejectSink {
    /// A sink writing under `root/_rejects/` (created now, so that every output has the folder)
    /// that tolerates `max` rejects.
    pub fn create(root: &Path, max: u64) -> Result<Self> {
        Self::create_as(root, REJECTS_FILE, max)
    }

    /// [`RejectSink::create`] writing `root/_rejects/<file>`: one file per window of a windowed
    /// run.
    pub fn create_as(root: &Path, file: &str, max: u64) -> Result<Self> {
        let dir = root.join(REJECTS_DIR);
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        Ok(Self {
            path: dir.join(file),
            max,
            count: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            state: Mutex::default(),
        })
    }

    /// Writes `rejects` to the file.
    pub fn extend(&self, rejects: impl IntoIterator<Item = Reject>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for reject in rejects {
            self.count.fetch_add(1, Ordering::Relaxed);
            if state.first.is_none() {
                state.first = Some(reject.to_string());
            }
            if state.failed.is_none() {
                if let Err(e) = write_one(&mut state.out, &self.path, &reject) {
                    state.failed = Some(e);
                    self.failed.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// Records rejected so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// `Ok` while the run may go on; once more records were rejected than the limit allows, the
    /// error that stops the run: [`crate::Error::TooManyRejects`] (its `kept` left for whoever
    /// keeps the rejects to fill in), or the error of writing the rejects file.
    pub fn check(&self) -> crate::Result<()> {
        if self.count() <= self.max && !self.failed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = &state.failed {
            return Err(Error::Io {
                path: self.path.clone(),
                source: std::io::Error::new(e.kind(), e.to_string()),
            }
            .into());
        }
        Err(crate::Error::TooManyRejects {
            count: self.count(),
            max: self.max,
            first: state.first.clone().unwrap_or_default(),
            kept: String::new(),
        })
    }

    /// Flushes the file and says what was written.
    pub fn finish(&self) -> Result<RejectsWritten> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let flushed = match state.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        };
        if let Some(e) = state.failed.take().or(flushed.err()) {
            return Err(Error::Io {
                path: self.path.clone(),
                source: e,
            });
        }
        Ok(RejectsWritten {
            count: self.count(),
            file: state.out.is_some().then(|| self.path.clone()),
            first: state.first.clone(),
        })
    }
}

fn write_one(
    out: &mut Option<BufWriter<File>>,
    path: &Path,
    reject: &Reject,
) -> std::io::Result<()> {
    let out = match out {
        Some(out) => out,
        None => out.insert(BufWriter::new(File::create(path)?)),
    };
    serde_json::to_writer(&mut *out, reject)?;
    out.write_all(b"\n")
}

/// Writes `rejects` to `<root>/_rejects/part-00000.ndjson` (the folder always exists; the file only
/// when there are rejects). Returns the file written, if any.
pub fn write_rejects(root: &Path, rejects: &[Reject]) -> Result<Option<PathBuf>> {
    let sink = RejectSink::create(root, u64::MAX)?;
    sink.extend(rejects.iter().cloned());
    Ok(sink.finish()?.file)
}

/// Reads a rejects file back.
pub fn read_rejects(path: &Path) -> Result<Vec<Reject>> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    text.lines()
        .map(|line| serde_json::from_str(line).map_err(|e| io_error(path)(e.into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_are_written_as_they_come_and_counted_against_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let sink = RejectSink::create(tmp.path(), 1).unwrap();
        assert!(tmp.path().join(REJECTS_DIR).is_dir());
        assert!(sink.check().is_ok());
        let reject = |line| Reject::new("log_data/a.json", line, "bad".into(), b"{x");
        sink.extend([reject(3)]);
        assert!(sink.check().is_ok());
        sink.extend([reject(7)]);
        let message = sink.check().unwrap_err().to_string();
        assert!(
            message.starts_with("2 rejected records exceed --max-bad-records 1"),
            "{message}"
        );
        let written = sink.finish().unwrap();
        assert_eq!(written.count, 2);
        assert_eq!(written.first.as_deref(), Some("log_data/a.json:3: bad"));
        let back = read_rejects(&written.file.unwrap()).unwrap();
        assert_eq!(back, [reject(3), reject(7)]);
    }
}
