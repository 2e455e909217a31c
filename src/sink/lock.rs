//! One run at a time per output: an exclusive advisory lock (`flock`) on `.<name>.lock` beside the
//! output, holding the pid of the run that has it.
//!
//! The lock is released by the kernel when its holder ends, however it ends (a SIGKILL included),
//! so a killed run never leaves a stale lock. The lock file itself stays: deleting it would let two
//! runs lock two different files of the same name.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::{io_error, Error, Result};

/// The held lock of an output; released when dropped.
#[derive(Debug)]
pub struct OutputLock {
    _file: File,
    path: PathBuf,
}

/// `<parent>/.<name>.<suffix>`: a hidden sibling of `output`.
pub(crate) fn sibling(output: &Path, suffix: &str) -> PathBuf {
    let name = output
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy());
    output.with_file_name(format!(".{name}.{suffix}"))
}

impl OutputLock {
    /// Takes the lock of `output` (whose parent folder must exist). When another run holds it:
    /// with `wait`, waits for it to end; otherwise fails at once with [`Error::Locked`], naming the
    /// holder's pid.
    pub fn acquire(output: &Path, wait: bool) -> Result<Self> {
        let path = sibling(output, "lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error(&path))?;
        if !try_lock(&file).map_err(io_error(&path))? {
            let holder = holder_pid(&mut file);
            if !wait {
                return Err(Error::Locked {
                    output: output.to_path_buf(),
                    holder,
                });
            }
            tracing::warn!(
                "{} is in use by another sparkify run (pid {}); waiting for it",
                output.display(),
                holder.map_or_else(|| "unknown".into(), |p| p.to_string())
            );
            lock(&file).map_err(io_error(&path))?;
        }
        let pid = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(pid.as_bytes()))
            .map_err(io_error(&path))?;
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The pid written in a lock file by its holder (`None` while it is being written).
fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Takes an exclusive `flock` on `file` if no one holds one; `false` when someone does.
#[cfg(unix)]
pub(crate) fn try_lock(file: &File) -> std::io::Result<bool> {
    loop {
        let Err(e) = crate::sys::flock(file, libc::LOCK_EX | libc::LOCK_NB) else {
            return Ok(true);
        };
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => return Ok(false),
            _ => return Err(e),
        }
    }
}

/// Waits for an exclusive `flock` on `file`.
#[cfg(unix)]
fn lock(file: &File) -> std::io::Result<()> {
    loop {
        let Err(e) = crate::sys::flock(file, libc::LOCK_EX) else {
            return Ok(());
        };
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Without `flock` (not Unix) runs are not kept apart: every lock is granted.
#[cfg(not(unix))]
pub(crate) fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(not(unix))]
fn lock(_file: &File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_naming_the_holder_and_is_granted_after_release() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("warehouse");
        let held = OutputLock::acquire(&out, false).unwrap();
        assert_eq!(held.path(), tmp.path().join(".warehouse.lock"));
        let err = OutputLock::acquire(&out, false).unwrap_err().to_string();
        let pid = std::process::id().to_string();
        assert!(err.contains(&format!("pid {pid}")), "{err}");
        assert!(err.contains("--wait-for-lock"), "{err}");
        drop(held);
        OutputLock::acquire(&out, false).unwrap();
    }
}
