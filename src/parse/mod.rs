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
    scratch: Vec<u8>,
}

impl Default for JsonParser {
    fn default() -> Self {
        Self {
            buffers: Buffers::new(4096),
            tape: Tape(Vec::with_capacity(256)),
            raw: Vec::with_capacity(1024),
            scratch: Vec::with_capacity(1024),
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
    /// The bytes after the record serve as simd-json's padding; a record with fewer than
    /// [`INPUT_PADDING`] bytes after it in `buf` (the last line of a piece) is parsed from a padded
    /// copy instead. The record's original bytes are kept aside first when it holds escapes
    /// (in-place unescaping rewrites them), so [`JsonParser::raw`] can return the text as it was
    /// for a reject.
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
        let padded: &mut [u8] = if buf.len() - (start + len) >= INPUT_PADDING {
            &mut buf[start..]
        } else {
            self.scratch.clear();
            self.scratch.extend_from_slice(record);
            pad(&mut self.scratch);
            &mut self.scratch
        };
        let mut tape: Tape<'_> = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        let outcome = match simd_json::fill_tape_padded(padded, len, &mut self.buffers, &mut tape) {
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

/// Walks the lines of a buffer that is parsed (and so changed) between steps: each call to
/// [`LineCursor::next`] borrows the data only to find the next line. Strips a UTF-8 BOM at the start
/// of a file and CR before LF, skips blank lines and tolerates a missing final newline.
#[derive(Debug)]
pub(crate) struct LineCursor {
    pos: usize,
    /// Lines (blank ones included) seen so far.
    pub(crate) number: u64,
}

impl LineCursor {
    /// A cursor at the start of `data`, which is the start of a file when `starts_file`.
    pub(crate) fn new(data: &[u8], starts_file: bool) -> Self {
        let pos = if starts_file && data.starts_with(BOM) {
            BOM.len()
        } else {
            0
        };
        Self { pos, number: 0 }
    }

    /// The next non-blank line of `data` as `(line_number, start, len)`, numbered from 1.
    pub(crate) fn next(&mut self, data: &[u8]) -> Option<(u64, usize, usize)> {
        loop {
            if self.pos >= data.len() {
                return None;
            }
            self.number += 1;
            let start = self.pos;
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
            self.pos = end + 1;
            let mut stop = end;
            if stop > start && data[stop - 1] == b'\r' {
                stop -= 1;
            }
            if data[start..stop].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some((self.number, start, stop - start));
        }
    }
}

/// A piece of a file that starts at a line boundary, parsed in place.
#[derive(Debug)]
pub struct Piece<'a> {
    /// The piece's bytes, a slice of the file's buffer.
    pub bytes: &'a mut [u8],
    /// Whether the piece is the start of its file (where a BOM may be).
    pub starts_file: bool,
}

/// Cuts `bytes` (the start of a file when `starts_file`) at line boundaries into pieces of about
/// `target` bytes, without copying, so that one large file can be parsed by several workers at once.
pub fn split_lines(mut bytes: &mut [u8], mut starts_file: bool, target: usize) -> Vec<Piece<'_>> {
    let mut pieces = Vec::with_capacity(bytes.len() / target.max(1) + 1);
    while !bytes.is_empty() {
        let end = match bytes
            .get(target..)
            .and_then(|rest| memchr::memchr(b'\n', rest))
        {
            Some(i) => target + i + 1,
            None => bytes.len(),
        };
        let (piece, rest) = std::mem::take(&mut bytes).split_at_mut(end);
        pieces.push(Piece {
            bytes: piece,
            starts_file,
        });
        starts_file = false;
        bytes = rest;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(data: &[u8], starts_file: bool) -> Vec<(u64, Vec<u8>)> {
        let mut cursor = LineCursor::new(data, starts_file);
        std::iter::from_fn(|| cursor.next(data))
            .map(|(n, s, l)| (n, data[s..s + l].to_vec()))
            .collect()
    }

    #[test]
    fn pieces_cover_the_lines_in_order() {
        let mut data = b"{\"a\":1}\n\n{\"b\":2}\n{\"c\":3}".to_vec();
        let whole: Vec<Vec<u8>> = lines_of(&data, true).into_iter().map(|l| l.1).collect();
        let mut parts = Vec::new();
        for p in split_lines(&mut data.clone(), true, 3) {
            parts.extend(lines_of(p.bytes, p.starts_file).into_iter().map(|l| l.1));
        }
        assert_eq!(parts, whole);
        assert_eq!(split_lines(&mut data.clone(), true, 3).len(), 3);
        assert_eq!(split_lines(&mut data, true, 100).len(), 1);
        assert!(split_lines(&mut [], true, 3).is_empty());
    }

    #[test]
    fn lines_skip_bom_crlf_and_blanks() {
        let data = b"\xEF\xBB\xBF{\"a\":1}\r\n\r\n  \n{\"b\":2}";
        let got = lines_of(data, true);
        assert_eq!(
            got,
            vec![(1, b"{\"a\":1}".to_vec()), (4, b"{\"b\":2}".to_vec())]
        );
        let mut cursor = LineCursor::new(data, true);
        while cursor.next(data).is_some() {}
        assert_eq!(cursor.number, 4);
    }

    #[test]
    fn a_record_at_the_end_of_a_piece_parses_from_a_padded_copy() {
        let mut parser = JsonParser::default();
        let mut buf = b"{\"a\":\"x\\/y\"}".to_vec();
        let len = buf.len();
        let got = parser.parse_in_place(&mut buf, 0, len, |tape| tape.len());
        assert!(matches!(got, Ok(3)));
        assert_eq!(parser.raw(&buf, 0, len), b"{\"a\":\"x\\/y\"}");
    }
}
