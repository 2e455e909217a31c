//! JSON bytes → typed records, with simd-json on reused buffers.
//!
//! Each worker owns one [`JsonParser`]: its simd-json buffers and tape are reset and reused for every
//! line, and each line is parsed in place inside the file's buffer (the bytes after it serve as
//! simd-json's padding), so parsing allocates nothing per record. Records that cannot be used become
//! [`Reject`]s with their file, line and raw text; they never stop the run by themselves.

pub mod event;
pub mod reject;
pub mod song;
mod value;

pub use reject::Reject;

use simd_json::{Buffers, Node, Tape, INPUT_PADDING};

/// Longest accepted line (or song object), in bytes. Longer ones are rejected unparsed, which bounds
/// the memory a hostile input can make a worker use.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One worker's reusable simd-json state.
pub struct JsonParser {
    buffers: Buffers,
    tape: Tape<'static>,
    raw: Vec<u8>,
}

impl Default for JsonParser {
    fn default() -> Self {
        Self {
            buffers: Buffers::new(4096),
            tape: Tape(Vec::with_capacity(256)),
            raw: Vec::with_capacity(1024),
        }
    }
}

/// Why a record was not parsed.
pub(crate) enum ParseFailure {
    /// Not valid JSON (or not UTF-8).
    Syntax(String),
    /// Longer than [`MAX_RECORD_BYTES`].
    TooLong(usize),
}

impl ParseFailure {
    pub(crate) fn reason(&self) -> String {
        match self {
            ParseFailure::Syntax(e) => format!("invalid JSON: {e}"),
            ParseFailure::TooLong(n) => {
                format!("record of {n} bytes exceeds the {MAX_RECORD_BYTES}-byte limit")
            }
        }
    }
}

impl JsonParser {
    /// Parses `buf[start..start + len]` in place and hands its tape to `f`.
    ///
    /// `buf` must extend at least [`INPUT_PADDING`] bytes past the record (see [`pad`]). The record's
    /// original bytes are kept aside first when it holds escapes (in-place unescaping rewrites them),
    /// so [`JsonParser::raw`] can return the text as it was for a reject.
    pub(crate) fn parse_in_place<R>(
        &mut self,
        buf: &mut [u8],
        start: usize,
        len: usize,
        f: impl FnOnce(&[Node<'_>]) -> R,
    ) -> Result<R, ParseFailure> {
        self.raw.clear();
        let record = &buf[start..start + len];
        if len > MAX_RECORD_BYTES {
            self.raw
                .extend_from_slice(&record[..MAX_RECORD_BYTES.min(4096)]);
            return Err(ParseFailure::TooLong(len));
        }
        if memchr::memchr(b'\\', record).is_some() {
            self.raw.extend_from_slice(record);
        }
        let mut tape: Tape<'_> = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        let outcome =
            match simd_json::fill_tape_padded(&mut buf[start..], len, &mut self.buffers, &mut tape)
            {
                Ok(()) => Ok(f(&tape.0)),
                Err(e) => Err(ParseFailure::Syntax(e.to_string())),
            };
        self.tape = tape.reset();
        outcome
    }

    /// The original text of the record last given to [`JsonParser::parse_in_place`], for a reject.
    pub(crate) fn raw<'b>(&'b self, buf: &'b [u8], start: usize, len: usize) -> &'b [u8] {
        if self.raw.is_empty() {
            &buf[start..start + len]
        } else {
            &self.raw
        }
    }
}

/// Makes `bytes` end with [`INPUT_PADDING`] spare bytes (spaces) and returns the data length.
pub(crate) fn pad(bytes: &mut Vec<u8>) -> usize {
    let len = bytes.len();
    bytes.resize(len + INPUT_PADDING, b' ');
    len
}

/// Iterates the non-blank lines of `data` as `(line_number, start, len)`, numbering from
/// `lines_before + 1`: strips a UTF-8 BOM (at the start of a file, `lines_before == 0`), CR before
/// LF, and tolerates a missing final newline.
pub(crate) fn lines(
    data: &[u8],
    lines_before: u64,
) -> impl Iterator<Item = (u64, usize, usize)> + '_ {
    let first = if lines_before == 0 && data.starts_with(BOM) {
        BOM.len()
    } else {
        0
    };
    let mut pos = first;
    let mut number = lines_before;
    std::iter::from_fn(move || loop {
        if pos >= data.len() {
            return None;
        }
        number += 1;
        let start = pos;
        let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i);
        pos = end + 1;
        let mut stop = end;
        if stop > start && data[stop - 1] == b'\r' {
            stop -= 1;
        }
        if data[start..stop].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        return Some((number, start, stop - start));
    })
}

/// A piece of a file that starts at a line boundary.
#[derive(Debug)]
pub struct Piece {
    /// Lines of the file before this piece.
    pub lines_before: u64,
    /// The piece's bytes.
    pub bytes: Vec<u8>,
}

/// Cuts `bytes` at line boundaries into pieces of about `target` bytes, so that one large file can
/// be parsed by several workers. A file no larger than `target` is one piece (not copied).
pub fn split_lines(bytes: Vec<u8>, target: usize) -> Vec<Piece> {
    if bytes.len() <= target {
        return vec![Piece {
            lines_before: 0,
            bytes,
        }];
    }
    let mut pieces = Vec::with_capacity(bytes.len() / target + 1);
    let (mut start, mut lines_before) = (0, 0u64);
    while start < bytes.len() {
        let end = match memchr::memchr(b'\n', &bytes[(start + target).min(bytes.len())..]) {
            Some(i) if start + target < bytes.len() => start + target + i + 1,
            _ => bytes.len(),
        };
        let mut piece = Vec::with_capacity(end - start + INPUT_PADDING);
        piece.extend_from_slice(&bytes[start..end]);
        pieces.push(Piece {
            lines_before,
            bytes: piece,
        });
        lines_before += memchr::memchr_iter(b'\n', &bytes[start..end]).count() as u64;
        start = end;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_keep_line_numbers() {
        let data = b"{\"a\":1}\n\n{\"b\":2}\n{\"c\":3}".to_vec();
        let whole: Vec<_> = lines(&data, 0)
            .map(|(n, s, l)| (n, data[s..s + l].to_vec()))
            .collect();
        let mut parts = Vec::new();
        for p in split_lines(data.clone(), 3) {
            parts.extend(
                lines(&p.bytes, p.lines_before).map(|(n, s, l)| (n, p.bytes[s..s + l].to_vec())),
            );
        }
        assert_eq!(parts, whole);
        assert_eq!(split_lines(data.clone(), 3).len(), 3);
        assert_eq!(split_lines(data, 100).len(), 1);
    }

    #[test]
    fn lines_skip_bom_crlf_and_blanks() {
        let data = b"\xEF\xBB\xBF{\"a\":1}\r\n\r\n  \n{\"b\":2}";
        let got: Vec<_> = lines(data, 0)
            .map(|(n, s, l)| (n, &data[s..s + l]))
            .collect();
        assert_eq!(got, vec![(1, &b"{\"a\":1}"[..]), (4, &b"{\"b\":2}"[..])]);
    }
}
