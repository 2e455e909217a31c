//! File-system primitives of a publish: make a folder durable, exchange two folders atomically.

use std::path::Path;

/// Flushes every file (when `files_too`) and folder under `dir` (and `dir` itself) to stable
/// storage, files in parallel, so that what a publish switches in is on disk before the switch is.
pub fn sync_tree(dir: &Path, files_too: bool) -> std::io::Result<()> {
    use rayon::prelude::*;
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    let mut at = 0;
    while at < dirs.len() {
        for entry in std::fs::read_dir(&dirs[at])? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() && files_too {
                files.push(entry.path());
            }
        }
        at += 1;
    }
    files
        .par_iter()
        .try_for_each(|f| std::fs::File::open(f)?.sync_all())?;
    // Deepest first: a folder's entries are durable before the folder that names them.
    dirs.iter().rev().try_for_each(|d| sync_dir(d))
}

/// Flushes the entries of the folder `dir` (new, renamed and removed names) to stable storage.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Folders cannot be opened for flushing here; their entries reach the disk with the files.
#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Atomically exchanges the folders `a` and `b` (both must exist): `Ok(false)` when the operating
/// system or file system has no atomic exchange, for the caller to fall back on two renames.
#[cfg(target_os = "linux")]
pub fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    if forced_fallback() {
        return Ok(false);
    }
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in a path"))
    };
    let (a, b) = (c(a)?, c(b)?);
    let Err(e) = crate::sys::rename_exchange(&a, &b) else {
        return Ok(true);
    };
    match e.raw_os_error() {
        // No renameat2 (kernel < 3.15, seccomp), or a file system without RENAME_EXCHANGE.
        Some(libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP) => Ok(false),
        _ => Err(e),
    }
}

/// No atomic exchange outside Linux.
#[cfg(not(target_os = "linux"))]
pub fn exchange(_a: &Path, _b: &Path) -> std::io::Result<bool> {
    Ok(false)
}

/// Test hook: a debug build with `SPARKIFY_TEST_NO_EXCHANGE=1` publishes with the two-rename
/// fallback, so that its recovery is tested where the exchange exists. Release builds ignore it.
#[cfg(target_os = "linux")]
fn forced_fallback() -> bool {
    cfg!(debug_assertions) && std::env::var_os("SPARKIFY_TEST_NO_EXCHANGE").is_some()
}

/// Test hook for a named `step` of a run, inert in release builds. In a debug build:
/// `SPARKIFY_TEST_KILL_AT=<step>` makes the process send itself SIGKILL there, so that tests can
/// kill a run at an exact moment; `SPARKIFY_TEST_PAUSE_AT=<step>` makes it say
/// `sparkify: paused at <step>` on stderr and wait for a line (or the end) on stdin.
#[inline]
pub fn test_point(step: &str) {
    #[cfg(all(debug_assertions, unix))]
    if std::env::var("SPARKIFY_TEST_KILL_AT").is_ok_and(|s| s == step) {
        crate::sys::kill_self();
    }
    #[cfg(debug_assertions)]
    if std::env::var("SPARKIFY_TEST_PAUSE_AT").is_ok_and(|s| s == step) {
        eprintln!("sparkify: paused at {step}");
        let _ = std::io::stdin().read_line(&mut String::new());
    }
    let _ = step;
}

/// Sets the permission bits of `dir` (Unix; elsewhere nothing to do).
#[cfg(unix)]
pub fn set_mode(dir: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
pub fn set_mode(_dir: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// The permission bits of `dir`.
#[cfg(unix)]
pub fn mode_of(dir: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(dir)?.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
pub fn mode_of(_dir: &Path) -> std::io::Result<u32> {
    Ok(0o755)
}

/// Creates the folder `dir` readable by its owner only (0700 on Unix): a staging folder is
/// private until it is published.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn exchange_swaps_two_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir_all(a.join("in_a")).unwrap();
        std::fs::create_dir_all(b.join("in_b")).unwrap();
        if !exchange(&a, &b).unwrap() {
            eprintln!("SKIPPED: this file system has no RENAME_EXCHANGE");
            return;
        }
        assert!(a.join("in_b").is_dir() && b.join("in_a").is_dir());
        sync_tree(tmp.path(), true).unwrap();
    }
}
