//! Records that could not be used, kept with enough context to fix the input.

use serde::{Deserialize, Serialize};

/// Bytes of its text a reject keeps at most: enough to find and fix the record, never the rest of
/// a huge line or file.
pub const MAX_RAW_BYTES: usize = 4096;

/// A rejected input record: where it was, why it was rejected, and its original text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// Input file, relative to the input root.
    pub file: String,
    /// 1-based line number (for song files: the line where the object starts; 0 for a whole
    /// file that could not be read).
    pub line: u64,
    /// Why the record was rejected.
    pub reason: String,
    /// The record's text as read (invalid UTF-8 replaced by U+FFFD), at most [`MAX_RAW_BYTES`]
    /// of it.
    pub raw: String,
    /// The length of the record's text when `raw` holds only its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_bytes: Option<u64>,
}

impl Reject {
    /// A reject for `raw` at `file:line`; its text is cut to [`MAX_RAW_BYTES`] (at a character
    /// boundary).
    pub fn new(file: &str, line: u64, reason: String, raw: &[u8]) -> Self {
        let (kept, raw_bytes) = if raw.len() > MAX_RAW_BYTES {
            (cut(&raw[..MAX_RAW_BYTES]), Some(raw.len() as u64))
        } else {
            (raw, None)
        };
        Self {
            file: file.to_string(),
            line,
            reason,
            raw: String::from_utf8_lossy(kept).into_owned(),
            raw_bytes,
        }
    }

    /// The reject for a whole file that could not be decompressed (line 0: no record was read).
    pub fn cannot_decompress(file: &str, error: &std::io::Error) -> Self {
        Self::unreadable(file, format!("cannot decompress: {error}"))
    }

    /// The reject for a whole file that was not read, or not read to its end, for `reason`.
    pub fn unreadable(file: &str, reason: String) -> Self {
        Self::new(file, 0, reason, b"")
    }
}

/// `prefix` without a UTF-8 sequence cut off at its end.
fn cut(prefix: &[u8]) -> &[u8] {
    match std::str::from_utf8(prefix) {
        Err(e) if e.error_len().is_none() => &prefix[..e.valid_up_to()],
        _ => prefix,
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_text_is_capped_at_a_character_boundary() {
        let short = Reject::new("f", 1, "r".into(), b"{bad");
        assert_eq!((short.raw.as_str(), short.raw_bytes), ("{bad", None));
        let mut long = vec![b'a'; MAX_RAW_BYTES - 1];
        long.extend_from_slice("é and more".as_bytes());
        let r = Reject::new("f", 1, "r".into(), &long);
        assert_eq!(r.raw.len(), MAX_RAW_BYTES - 1, "the cut `é` is dropped");
        assert_eq!(r.raw_bytes, Some(long.len() as u64));
        let json = serde_json::to_string(&short).unwrap();
        assert!(!json.contains("raw_bytes"), "{json}");
    }
}
