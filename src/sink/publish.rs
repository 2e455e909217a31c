//! Crash-safe replacement of a local output folder.
//!
//! A run writes a complete output into a private staging folder beside the output
//! (`.<name>.staging-<run-id>`, mode 0700, holding the [`MARKER`] from its first instant), then
//! [`Staging::publish`] switches it in:
//!
//! 1. every file and folder of the staging folder is flushed to disk;
//! 2. the output is checked once more: absent, empty, marked or an unmarked output of an earlier
//!    version (which is marked now, so that its leftovers are recognised later) — anything else
//!    is refused;
//! 3. one `renameat2(RENAME_EXCHANGE)` swaps the staging folder and the output (a plain rename
//!    when there is no output yet), and the parent folder is flushed;
//! 4. the previous output, now under the staging name, is deleted (its marker last).
//!
//! So at every instant, a SIGKILL included, the output path holds the previous complete output or
//! the new complete one. Where there is no atomic exchange (not Linux, or a file system that
//! refuses it) step 3 is two renames — output aside to `.<name>.aside-<run-id>`, staging into
//! place — and between them the output path is briefly absent; a run killed there leaves the
//! previous output aside, and the next run puts it back.
//!
//! A killed run leaves its staging folder (or a previous output under a staging or aside name)
//! behind. [`clean_leftovers`] deletes them: a folder of that name pattern that holds the marker,
//! which no live run holds locked, or that is empty. Callers keep runs on one output apart with
//! [`super::lock::OutputLock`].
//!
//! The steps are small on purpose: a later version that publishes one window at a time can stage
//! "previous version + new files" (hard links of the previous parts) and switch it in the same way.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::lock::{sibling, try_lock};
use super::marker::{inspect, is_marked, write_marker, Existing, MARKER};
use super::switch::{
    create_private_dir, exchange, mode_of, set_mode, sync_dir, sync_tree, test_point,
};
use super::{io_error, Error, Result};

/// A staging folder for one run's output.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    output: PathBuf,
    run_id: String,
    /// The marker, locked while this run is alive.
    _marker: File,
    keep: bool,
}

/// A name unique to this process and moment, for staging folders and run ids.
pub fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos}-{}", std::process::id())
}

/// The parent folder of `path` (`.` for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl Staging {
    /// Creates the staging folder for `output` (which need not exist yet) beside it.
    pub fn new(output: &Path) -> Result<Self> {
        let parent = parent_of(output);
        std::fs::create_dir_all(&parent).map_err(io_error(&parent))?;
        let run_id = run_id();
        let dir = sibling(output, &format!("staging-{run_id}"));
        create_private_dir(&dir).map_err(io_error(&dir))?;
        test_point("staging-created");
        let marker = write_marker(&dir, &run_id)?;
        try_lock(&marker).map_err(io_error(dir.join(MARKER)))?;
        Ok(Self {
            dir,
            output: output.to_path_buf(),
            run_id,
            _marker: marker,
            keep: false,
        })
    }

    /// The folder to write into.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// This run's id (part of the staging folder's name).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Replaces the output with the staged folder (see the module documentation).
    pub fn publish(self) -> Result<PathBuf> {
        let output = self.output.clone();
        self.switch_into(&output, true)
    }

    /// [`Staging::publish`] for a folder whose files are already on disk (a window of a windowed
    /// run: its new files flushed by the caller, the rest hard links to the published output's):
    /// only the folders, which name the files, are flushed here.
    pub fn publish_flushed(self) -> Result<PathBuf> {
        let output = self.output.clone();
        self.switch_into(&output, false)
    }

    /// Keeps the staged folder as `dest` instead of publishing it (the rejects of a failed run,
    /// for inspection), replacing an earlier `dest` only if sparkify wrote it. When `dest` is a
    /// folder sparkify did not write, it is left alone and the folder is kept as
    /// `<dest>-<run-id>`. Returns where it was kept.
    pub fn keep_as(self, dest: &Path) -> Result<PathBuf> {
        let dest = match inspect(dest) {
            Err(Error::NotOurs { .. }) => {
                let name = dest
                    .file_name()
                    .map_or_else(|| "output".into(), |n| n.to_string_lossy());
                dest.with_file_name(format!("{name}-{}", self.run_id))
            }
            _ => dest.to_path_buf(),
        };
        self.switch_into(&dest, true)
    }

    /// Switches the staged folder in at `dest`, its files flushed first when `sync_files` (its
    /// folders always).
    fn switch_into(mut self, dest: &Path, sync_files: bool) -> Result<PathBuf> {
        sync_tree(&self.dir, sync_files).map_err(io_error(&self.dir))?;
        test_point("synced");
        let parent = parent_of(dest);
        let existing = inspect(dest)?;
        let aside = if existing == Existing::Absent {
            set_mode(&self.dir, default_mode(&self.dir)?).map_err(io_error(&self.dir))?;
            std::fs::rename(&self.dir, dest).map_err(io_error(dest))?;
            self.keep = true;
            None
        } else {
            if existing != Existing::Marked {
                // Adopted, so that it is recognised should this run die with it aside.
                write_marker(dest, &self.run_id)?;
                sync_dir(dest).map_err(io_error(dest))?;
            }
            set_mode(&self.dir, mode_of(dest).map_err(io_error(dest))?)
                .map_err(io_error(&self.dir))?;
            let aside = self.swap(dest)?;
            self.keep = true;
            Some(aside)
        };
        sync_dir(&parent).map_err(io_error(&parent))?;
        test_point("switched");
        if let Some(aside) = aside {
            if let Err(e) = remove_folder(&aside) {
                tracing::warn!(
                    "cannot remove the previous output {}: {e}; the next run removes it",
                    aside.display()
                );
            }
        }
        test_point("published");
        Ok(dest.to_path_buf())
    }

    /// Puts the staged folder at `dest`, which exists; returns where the previous `dest` went.
    fn swap(&self, dest: &Path) -> Result<PathBuf> {
        if exchange(&self.dir, dest).map_err(io_error(dest))? {
            test_point("exchanged");
            return Ok(self.dir.clone());
        }
        let aside = sibling(dest, &format!("aside-{}", self.run_id));
        std::fs::rename(dest, &aside).map_err(io_error(dest))?;
        test_point("aside");
        if let Err(e) = std::fs::rename(&self.dir, dest) {
            // Put the previous output back; the staged files are dropped with `self`.
            let _ = std::fs::rename(&aside, dest);
            return Err(io_error(dest)(e));
        }
        Ok(aside)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The permission bits a folder created now gets (the process umask applied), learned from a
/// probe folder inside `dir`: what a published output has when there was none before.
fn default_mode(dir: &Path) -> Result<u32> {
    let probe = dir.join(".mode-probe");
    std::fs::create_dir(&probe).map_err(io_error(&probe))?;
    let mode = mode_of(&probe);
    std::fs::remove_dir(&probe).map_err(io_error(&probe))?;
    mode.map_err(io_error(&probe))
}

/// Deletes a marked folder, its marker last, so that a run killed half-way leaves a folder that
/// is still recognised (or an empty one).
fn remove_folder(dir: &Path) -> std::io::Result<()> {
    let mut first = true;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() == MARKER {
            continue;
        }
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
        if std::mem::take(&mut first) {
            test_point("removing");
        }
    }
    match std::fs::remove_file(dir.join(MARKER)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::remove_dir(dir)
}

/// What a killed run may have left beside an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Leftover {
    /// `.<name>.staging-<run-id>`: a staging folder, or the previous output after an exchange.
    Staging,
    /// `.<name>.aside-<run-id>`: the previous output, moved aside by the two-rename fallback.
    Aside,
}

/// Deletes what killed runs left beside `output` — staging folders, previous outputs under a
/// staging or aside name — and, when the output itself is missing because a run died between
/// the two renames of the fallback, puts the previous output back. Only folders of those name
/// patterns that hold the marker (and whose marker no live run holds locked), or that are empty,
/// are touched. Returns what was deleted or restored.
pub fn clean_leftovers(output: &Path) -> Result<Vec<PathBuf>> {
    let parent = parent_of(output);
    let name = output
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy());
    let prefix = format!(".{name}.");
    let entries = match std::fs::read_dir(&parent) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(&parent)(e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error(&parent))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        let kind = if rest.starts_with("staging-") {
            Leftover::Staging
        } else if rest.starts_with("aside-") {
            Leftover::Aside
        } else {
            continue;
        };
        if entry.file_type().map_err(io_error(entry.path()))?.is_dir() {
            found.push((kind, entry.path()));
        }
    }
    found.sort();
    let mut done = Vec::new();
    let mut output_missing = inspect(output).is_ok_and(|e| e == Existing::Absent);
    // Newest first: the aside to put back, should the output be missing, is the latest one.
    for (kind, dir) in found.into_iter().rev() {
        if !is_marked(&dir) {
            // Only an empty folder (killed before its marker, or after it was removed).
            if std::fs::remove_dir(&dir).is_ok() {
                done.push(dir);
            }
            continue;
        }
        let marker_path = dir.join(MARKER);
        let marker = File::open(&marker_path).map_err(io_error(&marker_path))?;
        if !try_lock(&marker).map_err(io_error(&marker_path))? {
            continue; // a live run's
        }
        if kind == Leftover::Aside && output_missing {
            std::fs::rename(&dir, output).map_err(io_error(output))?;
            sync_dir(&parent).map_err(io_error(&parent))?;
            tracing::warn!(
                "{}: put back the previous output that a killed run had moved aside",
                output.display()
            );
            output_missing = false;
        } else {
            remove_folder(&dir).map_err(io_error(&dir))?;
            tracing::info!("removed {}, left by a killed run", dir.display());
        }
        done.push(dir);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_replaces_whole_and_drop_discards() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("warehouse");
        std::fs::create_dir_all(out.join("songs")).unwrap();
        std::fs::write(out.join("songs/part-00000.parquet"), b"old").unwrap();

        let staged = Staging::new(&out).unwrap();
        std::fs::write(staged.path().join("new"), b"x").unwrap();
        staged.publish().unwrap();
        assert!(out.join("new").exists() && is_marked(&out));
        assert!(!out.join("songs").exists(), "output is replaced whole");

        let abandoned = Staging::new(&out).unwrap();
        std::fs::write(abandoned.path().join("half"), b"x").unwrap();
        drop(abandoned);
        assert!(out.join("new").exists());
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["warehouse"], "staging folder removed");
    }

    #[cfg(unix)]
    #[test]
    fn staging_is_private_and_the_output_gets_the_previous_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("w");
        let staged = Staging::new(&out).unwrap();
        assert_eq!(mode_of(staged.path()).unwrap(), 0o700);
        staged.publish().unwrap();
        assert_ne!(mode_of(&out).unwrap(), 0o700, "a plain folder's mode");
        set_mode(&out, 0o750).unwrap();
        Staging::new(&out).unwrap().publish().unwrap();
        assert_eq!(mode_of(&out).unwrap(), 0o750);
    }

    #[test]
    fn leftovers_of_killed_runs_are_removed_and_live_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("w");
        Staging::new(&out).unwrap().publish().unwrap();
        let live = Staging::new(&out).unwrap();
        // A killed run's staging folder: marked, nobody holds its marker.
        let dead = sibling(&out, "staging-1-1");
        std::fs::create_dir(&dead).unwrap();
        write_marker(&dead, "1-1").unwrap();
        std::fs::write(dead.join("half.parquet"), b"x").unwrap();
        // Killed before writing its marker.
        let empty = sibling(&out, "staging-2-2");
        std::fs::create_dir(&empty).unwrap();
        // Someone's folder with a matching name but no marker.
        let foreign = sibling(&out, "staging-notes");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("notes.txt"), b"mine").unwrap();

        let mut removed = clean_leftovers(&out).unwrap();
        removed.sort();
        assert_eq!(removed, [dead.clone(), empty.clone()]);
        assert!(live.path().is_dir() && foreign.join("notes.txt").is_file());
        assert!(is_marked(&out));
    }

    #[test]
    fn a_previous_output_left_aside_is_put_back() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("w");
        Staging::new(&out).unwrap().publish().unwrap();
        std::fs::write(out.join("table"), b"previous").unwrap();
        let aside = sibling(&out, "aside-3-3");
        std::fs::rename(&out, &aside).unwrap();
        assert_eq!(clean_leftovers(&out).unwrap(), [aside]);
        assert_eq!(std::fs::read(out.join("table")).unwrap(), b"previous");
    }

    #[test]
    fn keep_as_never_replaces_a_folder_it_did_not_write() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("w");
        let failed = tmp.path().join("w.failed");
        std::fs::create_dir(&failed).unwrap();
        std::fs::write(failed.join("notes.txt"), b"mine").unwrap();
        let staged = Staging::new(&out).unwrap();
        let run = staged.run_id().to_string();
        let kept = staged.keep_as(&failed).unwrap();
        assert_eq!(kept, tmp.path().join(format!("w.failed-{run}")));
        assert_eq!(std::fs::read(failed.join("notes.txt")).unwrap(), b"mine");
        // A `.failed` folder sparkify wrote is replaced.
        let again = Staging::new(&out).unwrap();
        std::fs::write(again.path().join("rejects"), b"2").unwrap();
        let kept_again = again.keep_as(&kept).unwrap();
        assert_eq!(std::fs::read(kept_again.join("rejects")).unwrap(), b"2");
    }
}
