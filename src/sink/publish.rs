//! Atomic replacement of a local output folder.
//!
//! A run writes into a hidden staging folder beside the output. Publishing swaps it in with two
//! renames (old output aside, staging into place) and then deletes the old one, so the output is
//! always either the previous complete run or the new complete run. A run that fails, or is dropped
//! before publishing, deletes its staging folder and leaves the output untouched.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{io_error, Result};

/// A staging folder for one run's output.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    output: PathBuf,
    keep: bool,
}

/// A name unique to this process and moment, for staging folders and run ids.
pub fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos}-{}", std::process::id())
}

impl Staging {
    /// Creates the staging folder for `output` (which need not exist yet).
    pub fn new(output: &Path) -> Result<Self> {
        let parent = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io_error(&parent))?;
        let name = output
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        let dir = parent.join(format!(".{name}.staging-{}", run_id()));
        std::fs::create_dir(&dir).map_err(io_error(&dir))?;
        Ok(Self {
            dir,
            output: output.to_path_buf(),
            keep: false,
        })
    }

    /// The folder to write into.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Replaces the output with the staged folder.
    pub fn publish(mut self) -> Result<PathBuf> {
        let old = self.dir.with_extension("old");
        let had_output = self.output.exists();
        if had_output {
            std::fs::rename(&self.output, &old).map_err(io_error(&self.output))?;
        }
        if let Err(e) = std::fs::rename(&self.dir, &self.output) {
            if had_output {
                // Put the previous output back; the staged files are dropped with `self`.
                let _ = std::fs::rename(&old, &self.output);
            }
            return Err(io_error(&self.output)(e));
        }
        self.keep = true;
        if had_output {
            std::fs::remove_dir_all(&old).map_err(io_error(&old))?;
        }
        Ok(self.output.clone())
    }

    /// Keeps the staged folder under `dest` instead of publishing it (used to leave the rejects of a
    /// failed run for inspection). Replaces an earlier `dest`.
    pub fn keep_as(mut self, dest: &Path) -> Result<PathBuf> {
        if dest.exists() {
            std::fs::remove_dir_all(dest).map_err(io_error(dest))?;
        }
        std::fs::rename(&self.dir, dest).map_err(io_error(dest))?;
        self.keep = true;
        Ok(dest.to_path_buf())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_replaces_whole_and_drop_discards() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("warehouse");
        std::fs::create_dir_all(out.join("stale")).unwrap();

        let staged = Staging::new(&out).unwrap();
        std::fs::write(staged.path().join("new"), b"x").unwrap();
        staged.publish().unwrap();
        assert!(out.join("new").exists());
        assert!(!out.join("stale").exists(), "output is replaced whole");

        let abandoned = Staging::new(&out).unwrap();
        std::fs::write(abandoned.path().join("half"), b"x").unwrap();
        drop(abandoned);
        assert!(out.join("new").exists());
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "staging folder removed");
    }
}
