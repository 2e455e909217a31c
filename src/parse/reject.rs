//! Records that could not be used, kept with enough context to fix the input.

use serde::Serialize;

/// A rejected input record: where it was, why it was rejected, and its original text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// Input file, relative to the input root.
    pub file: String,
    /// 1-based line number (for song files: the line where the object starts).
    pub line: u64,
    /// Why the record was rejected.
    pub reason: String,
    /// The record's text as read (invalid UTF-8 replaced by U+FFFD).
    pub raw: String,
}

impl Reject {
    /// A reject for `raw` at `file:line`.
    pub fn new(file: &str, line: u64, reason: String, raw: &[u8]) -> Self {
        Self {
            file: file.to_string(),
            line,
            reason,
            raw: String::from_utf8_lossy(raw).into_owned(),
        }
    }

    /// The reject for a whole file that could not be decompressed (line 0: no record was read).
    pub fn cannot_decompress(file: &str, error: &std::io::Error) -> Self {
        Self::new(file, 0, format!("cannot decompress: {error}"), b"")
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}
