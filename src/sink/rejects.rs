//! The rejects file: one JSON object per rejected record (`file`, `line`, `reason`, `raw`).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{io_error, Result};
use crate::parse::Reject;

/// Folder of the rejects inside an output.
pub const REJECTS_DIR: &str = "_rejects";

/// Writes `rejects` to `<root>/_rejects/part-00000.ndjson` (the folder always exists; the file only
/// when there are rejects). Returns the file written, if any.
pub fn write_rejects(root: &Path, rejects: &[Reject]) -> Result<Option<PathBuf>> {
    let dir = root.join(REJECTS_DIR);
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    if rejects.is_empty() {
        return Ok(None);
    }
    let path = dir.join("part-00000.ndjson");
    let file = std::fs::File::create(&path).map_err(io_error(&path))?;
    let mut out = BufWriter::new(file);
    for r in rejects {
        serde_json::to_writer(&mut out, r).map_err(|e| io_error(&path)(e.into()))?;
        out.write_all(b"\n").map_err(io_error(&path))?;
    }
    out.flush().map_err(io_error(&path))?;
    Ok(Some(path))
}
