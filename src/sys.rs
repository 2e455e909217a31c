//! The crate's only `unsafe` code: memory-mapping input files, `flock`, `renameat2`, the
//! allocator's arena limit and a test hook's `kill`. Each function states what it relies on;
//! everything else is safe Rust (`#![deny(unsafe_code)]` at the crate root, allowed here alone).

#![allow(unsafe_code)]

use std::fs::File;

use memmap2::{Mmap, MmapOptions};

/// Maps `len` bytes of `file` from `offset` read-only (the whole file when `len` is `None`).
///
/// Callers read the mapping as the bytes of an input file: log files a part at a time, large song
/// files whole. The parsers read it in place (texts of a record may borrow from it after UTF-8
/// validation) or copy a record out of it first.
pub fn map_input(file: &File, offset: u64, len: Option<usize>) -> std::io::Result<Mmap> {
    let mut options = MmapOptions::new();
    options.offset(offset);
    if let Some(len) = len {
        options.len(len);
    }
    // SAFETY: a mapping is only as immutable as the file under it, and Rust assumes the bytes
    // behind a `&[u8]` do not change. This relies on input files not being modified by another
    // process while a run reads them: the contract of sparkify's input (README, "Bad input"), met by
    // every producer that writes a new file and renames it into place (the mapping keeps the old
    // file). If another process breaks it:
    // - truncating the file makes a read of a page past the new end raise SIGBUS: the run dies,
    //   nothing is published, and the previous output stays as it was;
    // - writing into the file in place changes bytes the parsers are reading. A record copied out
    //   of the mapping is at worst a torn mix of old and new bytes, validated and parsed like any
    //   other input. But the fast parse path keeps `&str` views of text it has validated in the
    //   mapping, and a concurrent write can make such a view invalid UTF-8 after the check: that
    //   is undefined behaviour, not just wrong data. Inputs that may be rewritten in place must
    //   be copied (or snapshotted) before a run.
    // The mapping is read-only (`PROT_READ`): sparkify never writes through it.
    unsafe { options.map(file) }
}

/// Applies `flock(2)` `operation` (`LOCK_EX`, with `LOCK_NB` not to wait) to `file`'s descriptor.
#[cfg(unix)]
pub fn flock(file: &File, operation: libc::c_int) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` only reads its arguments; the descriptor is owned by `file`, which outlives
    // the call, so it is open and is not another file's.
    match unsafe { libc::flock(file.as_raw_fd(), operation) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Atomically exchanges the paths `a` and `b` with `renameat2(RENAME_EXCHANGE)`.
#[cfg(target_os = "linux")]
pub fn rename_exchange(a: &std::ffi::CStr, b: &std::ffi::CStr) -> std::io::Result<()> {
    // SAFETY: two NUL-terminated paths that outlive the call (`CStr` guarantees both), relative
    // to the working directory (`AT_FDCWD`); the kernel only reads them.
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    match done {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Keeps glibc's allocator to one arena, unless `MALLOC_ARENA_MAX` is set (glibc reads it
/// itself). glibc gives threads arenas of their own, up to eight per core, and memory freed in
/// one stays there: parse workers allocate a piece's arrays and the writer thread frees them. A
/// windowed run over 10 GB of logs peaks at ~720 MB with glibc's default and ~220 MB with one
/// arena (BENCHMARKS.md, "Backfills"). The parsers allocate per 4 MB piece, not per record, so one arena's lock is not
/// contended: CPU time is the same either way. Call it first in `main`, before any thread starts.
pub fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` takes and returns plain integers and only changes a parameter of
        // glibc's allocator, which takes its own lock; allocations already made stay valid.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// Kills this process with SIGKILL (the crash tests' hook; see `sink::switch::test_point`).
#[cfg(all(debug_assertions, unix))]
pub fn kill_self() {
    // SAFETY: `getpid` and `kill` take and return plain integers; signalling this very process is
    // the point.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
}
