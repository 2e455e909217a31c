//! What sparkify may replace or delete: folders it wrote, recognised by a marker file.
//!
//! Every folder sparkify creates (a staging folder, hence every published output and every
//! `.failed` folder) holds [`MARKER`] from its first instant. A folder is replaced or deleted only
//! when it is absent, empty, marked, or laid out exactly as an output of the versions before the
//! marker (`songplays/ users/ songs/ artists/ time/ _rejects/` holding `part-N.parquet` /
//! `part-N.ndjson` files and nothing else): anything else is a folder sparkify did not write.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::{io_error, Error, Result};

/// Name of the marker file at the top of every folder sparkify writes.
pub const MARKER: &str = "_SPARKIFY";

/// What is at a path sparkify is about to replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Nothing.
    Absent,
    /// An empty folder.
    Empty,
    /// A folder holding [`MARKER`].
    Marked,
    /// An output written before the marker existed.
    Unmarked,
}

/// Whether `dir` holds the marker file.
pub fn is_marked(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(MARKER)).is_ok_and(|m| m.is_file())
}

/// Creates the marker in `dir` (which sparkify just created, or may replace) and returns it open
/// for writing, so that the caller can lock it. Its text says what wrote it.
pub(crate) fn write_marker(dir: &Path, run_id: &str) -> Result<File> {
    let path = dir.join(MARKER);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(io_error(&path))?;
    writeln!(
        file,
        "{{\"written_by\":\"sparkify {}\",\"run_id\":\"{run_id}\"}}",
        env!("CARGO_PKG_VERSION")
    )
    .map_err(io_error(&path))?;
    Ok(file)
}

/// What is at `path`, or [`Error::NotOurs`] when it is something sparkify must not replace.
pub fn inspect(path: &Path) -> Result<Existing> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(e) => return Err(io_error(path)(e)),
    };
    let not_ours = |reason: String| Error::NotOurs {
        path: path.to_path_buf(),
        reason,
    };
    if meta.file_type().is_symlink() {
        return Err(not_ours("it is a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Err(not_ours("it is a file, not a folder".into()));
    }
    if is_marked(path) {
        return Ok(Existing::Marked);
    }
    let mut entries = 0;
    for entry in std::fs::read_dir(path).map_err(io_error(path))? {
        let entry = entry.map_err(io_error(path))?;
        entries += 1;
        if let Some(stray) = stray_entry(&entry)? {
            return Err(not_ours(format!(
                "it holds {stray}, which sparkify did not write"
            )));
        }
    }
    Ok(if entries == 0 {
        Existing::Empty
    } else {
        Existing::Unmarked
    })
}

/// The first thing in the top-level entry `entry` of an unmarked folder that an output of an
/// earlier version would not hold, if any.
fn stray_entry(entry: &std::fs::DirEntry) -> Result<Option<String>> {
    let path = entry.path();
    let name = entry.file_name().to_string_lossy().into_owned();
    let is_table = crate::schema::TABLES.iter().any(|t| t.name == name);
    let extension = match name.as_str() {
        _ if is_table => ".parquet",
        super::rejects::REJECTS_DIR => ".ndjson",
        _ => return Ok(Some(format!("`{name}`"))),
    };
    if !entry.file_type().map_err(io_error(&path))?.is_dir() {
        return Ok(Some(format!("`{name}` (not a folder)")));
    }
    for file in std::fs::read_dir(&path).map_err(io_error(&path))? {
        let file = file.map_err(io_error(&path))?;
        let file_name = file.file_name().to_string_lossy().into_owned();
        let numbered = file_name
            .strip_prefix("part-")
            .and_then(|rest| rest.strip_suffix(extension))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !numbered || !file.file_type().map_err(io_error(file.path()))?.is_file() {
            return Ok(Some(format!("`{name}/{file_name}`")));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absent_empty_marked_or_old_layouts_are_ours() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path();
        assert_eq!(inspect(&p.join("none")).unwrap(), Existing::Absent);
        std::fs::create_dir(p.join("empty")).unwrap();
        assert_eq!(inspect(&p.join("empty")).unwrap(), Existing::Empty);

        let old = p.join("old");
        std::fs::create_dir_all(old.join("songs")).unwrap();
        std::fs::create_dir_all(old.join("_rejects")).unwrap();
        std::fs::write(old.join("songs/part-00000.parquet"), b"x").unwrap();
        std::fs::write(old.join("_rejects/part-00000.ndjson"), b"x").unwrap();
        assert_eq!(inspect(&old).unwrap(), Existing::Unmarked);

        for (stray, needle) in [
            ("notes.txt", "`notes.txt`"),
            ("songs/readme.md", "`songs/readme.md`"),
            (
                "_rejects/part-00000.parquet",
                "`_rejects/part-00000.parquet`",
            ),
        ] {
            std::fs::write(old.join(stray), b"mine").unwrap();
            let err = inspect(&old).unwrap_err().to_string();
            assert!(
                err.contains(needle) && err.contains("did not write"),
                "{err}"
            );
            std::fs::remove_file(old.join(stray)).unwrap();
        }

        std::fs::write(p.join("file"), b"x").unwrap();
        assert!(inspect(&p.join("file")).is_err());
        std::fs::create_dir(p.join("mine")).unwrap();
        std::fs::write(p.join("mine/notes.txt"), b"x").unwrap();
        assert!(inspect(&p.join("mine")).is_err());
        write_marker(&p.join("mine"), "r1").unwrap();
        assert_eq!(inspect(&p.join("mine")).unwrap(), Existing::Marked);
    }
}
