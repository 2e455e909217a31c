//! Publishing a written window: its files flushed, its state file written, each folder flushed
//! once and the folder switched in, on a thread of its own while the next window streams; and
//! the hard links that carry the published output's parts into the next window's folder.

use std::path::{Path, PathBuf};

use super::state::{write_state, State};
use crate::sink::marker::MARKER;
use crate::sink::publish::Staging;
use crate::sink::switch::test_point;
use crate::summary::EtlSummary;
use crate::window::STATE_FILE;
use crate::{Error, Result};

pub(super) fn count_published(summary: &mut EtlSummary) {
    if let Some(w) = summary.windows.as_mut() {
        w.done += 1;
    }
}

/// The publish of a written window, on a thread of its own so that the next window streams
/// meanwhile: a publish only waits on the disk (flushes, the exchange, removing the previous
/// output). At most one is under way, and the next window waits for it before it loads, links
/// or publishes anything, so windows are published one after the other, in order.
#[derive(Default)]
pub(super) struct Publishing(Option<std::thread::JoinHandle<Result<()>>>);

impl Publishing {
    /// Publishes the window `at`, staged in `stage` (`written`: the files it wrote; the rest are
    /// links to the published output's files), with `state` as its state file.
    pub(super) fn start(
        &mut self,
        at: usize,
        stage: Staging,
        written: Vec<PathBuf>,
        state: State,
    ) -> Result<()> {
        debug_assert!(self.0.is_none(), "one publish at a time");
        let handle = std::thread::Builder::new()
            .name("sparkify-publish".into())
            .spawn(move || publish_window(at, stage, &written, &state))
            .map_err(Error::Thread)?;
        self.0 = Some(handle);
        Ok(())
    }

    /// Waits for the publish under way; whether there was one.
    pub(super) fn wait(&mut self) -> Result<bool> {
        match self.0.take() {
            None => Ok(false),
            Some(handle) => match handle.join() {
                Ok(outcome) => outcome.map(|()| true),
                Err(panic) => std::panic::resume_unwind(panic),
            },
        }
    }
}

impl Drop for Publishing {
    /// A run failing while a window publishes lets that publish end: the window is then
    /// published whole, or not at all if the publish fails or the process dies first.
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            let _ = handle.join();
        }
    }
}

/// Publishes a window's folder: the files it wrote are flushed (side by side: concurrent
/// flushes share the file system's journal commits), the state file written and flushed, then
/// [`Staging::publish_flushed`] flushes each folder once — after its last file and hard link are
/// in place, so that every name in it is durable — and switches the folder in.
fn publish_window(at: usize, stage: Staging, written: &[PathBuf], state: &State) -> Result<()> {
    std::thread::scope(|scope| {
        let flushes: Vec<_> = written
            .iter()
            .map(|path| {
                scope.spawn(move || {
                    std::fs::File::open(path)
                        .and_then(|f| f.sync_all())
                        .map_err(crate::sink::io_error(path))
                })
            })
            .collect();
        flushes
            .into_iter()
            .try_for_each(|f| f.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })?;
    write_state(&stage.path().join(STATE_FILE), state)?;
    stage.publish_flushed()?;
    test_point(&format!("window-{at}-published"));
    Ok(())
}

/// The files under `dir`, in every sub-folder.
pub(super) fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(at) = dirs.pop() {
        for entry in std::fs::read_dir(&at).map_err(crate::sink::io_error(&at))? {
            let entry = entry.map_err(crate::sink::io_error(&at))?;
            let kind = entry
                .file_type()
                .map_err(crate::sink::io_error(entry.path()))?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    Ok(files)
}

/// The number after the highest `part-N` file in `dir` (0 when there is none).
pub(super) fn next_part(dir: &Path) -> Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(crate::sink::io_error(dir)(e).into()),
    };
    let mut next = 0;
    for entry in entries {
        let entry = entry.map_err(crate::sink::io_error(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let number = name
            .strip_prefix("part-")
            .and_then(|n| n.split('.').next())
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(n) = number {
            next = next.max(n + 1);
        }
    }
    Ok(next)
}

/// Hard-links the files of `from/<folder>` for each of `folders` into `to/<folder>`, keeping
/// those `to` already has (a rewritten catalogue rejects file).
pub(super) fn link_tables(from: &Path, to: &Path, folders: &[&str]) -> Result<()> {
    for folder in folders {
        let (src, dst) = (from.join(folder), to.join(folder));
        let entries = match std::fs::read_dir(&src) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(crate::sink::io_error(&src)(e).into()),
        };
        std::fs::create_dir_all(&dst).map_err(crate::sink::io_error(&dst))?;
        for entry in entries {
            let entry = entry.map_err(crate::sink::io_error(&src))?;
            let target = dst.join(entry.file_name());
            if entry.file_name() == MARKER || target.exists() {
                continue;
            }
            std::fs::hard_link(entry.path(), &target).map_err(crate::sink::io_error(&target))?;
        }
    }
    Ok(())
}
