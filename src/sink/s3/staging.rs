//! The staged folder: `<table>/*.parquet` and `_rejects/*.ndjson`, checked before anything is
//! uploaded.

use std::path::{Path, PathBuf};

use super::{PublishError, Result};
use crate::sink::rejects::REJECTS_DIR;

/// A table of the staged folder.
#[derive(Debug)]
pub(super) struct StagedTable {
    pub name: String,
    /// Files sorted by name.
    pub files: Vec<(PathBuf, String, u64)>,
}

/// The staged folder, scanned.
#[derive(Debug)]
pub(super) struct Staged {
    pub tables: Vec<StagedTable>,
    pub rejects: Vec<(PathBuf, String, u64)>,
}

pub(super) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn staging_error(path: &Path, reason: impl Into<String>) -> PublishError {
    PublishError::Staging {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Checks that a run id can name a folder: 1–128 of `A-Z a-z 0-9 . _ -`, not starting with `.`.
pub fn validate_run_id(run_id: &str) -> Result<()> {
    let fail = |reason: &str| PublishError::RunId {
        run_id: run_id.to_string(),
        reason: reason.to_string(),
    };
    if run_id.is_empty() || run_id.len() > 128 {
        return Err(fail("must be 1 to 128 characters long"));
    }
    if !run_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(fail("only letters, digits, '.', '_' and '-' are allowed"));
    }
    if run_id.starts_with('.') {
        return Err(fail("must not start with '.'"));
    }
    Ok(())
}

/// Sorted regular files of `dir` as (path, file name, size); sub-folders are an error.
fn files_of(dir: &Path) -> Result<Vec<(PathBuf, String, u64)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(io_error(&path))?;
        if meta.is_dir() {
            return Err(staging_error(&path, "unexpected sub-folder"));
        }
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| staging_error(&path, "file name is not UTF-8"))?;
        out.push((path, name, meta.len()));
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Reads the layout of the staged folder.
pub(super) fn scan_staging(staged: &Path) -> Result<Staged> {
    let mut tables = Vec::new();
    let mut rejects = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(staged)
        .map_err(io_error(staged))?
        .collect::<std::io::Result<_>>()
        .map_err(io_error(staged))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(name) = entry.file_name().into_string() else {
            return Err(staging_error(&path, "name is not UTF-8"));
        };
        let meta = std::fs::metadata(&path).map_err(io_error(&path))?;
        if !meta.is_dir() {
            if name != crate::sink::marker::MARKER {
                tracing::warn!(path = %path.display(), "not published: not in a table folder");
            }
            continue;
        }
        if name == REJECTS_DIR {
            for (file, fname, size) in files_of(&path)? {
                if fname.ends_with(".ndjson") {
                    rejects.push((file, fname, size));
                } else {
                    tracing::warn!(path = %file.display(), "not published: not a .ndjson file");
                }
            }
            continue;
        }
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(staging_error(
                &path,
                "a table folder name must be a lowercase SQL identifier",
            ));
        }
        let mut files = Vec::new();
        for (file, fname, size) in files_of(&path)? {
            if fname.ends_with(".parquet") && !fname.starts_with('.') {
                files.push((file, fname, size));
            } else {
                tracing::warn!(path = %file.display(), "not published: not a .parquet file");
            }
        }
        tables.push(StagedTable { name, files });
    }
    if tables.is_empty() {
        return Err(staging_error(staged, "no table folders to publish"));
    }
    Ok(Staged { tables, rejects })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_checked() {
        for ok in ["20240101T000000Z", "run-1", "a.b_c"] {
            validate_run_id(ok).unwrap();
        }
        for bad in ["", "a/b", ".hidden", "a b", "ü"] {
            assert!(validate_run_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn staging_layout_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            scan_staging(dir.path()),
            Err(PublishError::Staging { .. })
        ));
        std::fs::create_dir_all(dir.path().join("songs")).unwrap();
        std::fs::write(dir.path().join("songs/part-00001.parquet"), b"b").unwrap();
        std::fs::write(dir.path().join("songs/part-00000.parquet"), b"a").unwrap();
        std::fs::write(dir.path().join("songs/_SUCCESS"), b"").unwrap();
        std::fs::create_dir_all(dir.path().join("_rejects")).unwrap();
        std::fs::write(dir.path().join("_rejects/events.ndjson"), b"{}\n").unwrap();
        let s = scan_staging(dir.path()).unwrap();
        assert_eq!(s.tables.len(), 1);
        let names: Vec<_> = s.tables[0].files.iter().map(|f| f.1.as_str()).collect();
        assert_eq!(names, ["part-00000.parquet", "part-00001.parquet"]);
        assert_eq!(s.rejects.len(), 1);
        std::fs::create_dir_all(dir.path().join("songs/nested")).unwrap();
        assert!(matches!(
            scan_staging(dir.path()),
            Err(PublishError::Staging { .. })
        ));
    }
}
