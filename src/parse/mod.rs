//! JSON bytes → typed records, on reused buffers.
//!
//! Each worker owns one [`JsonParser`]. A record that is a flat object (every event and song is)
//! is read in place by a fast path that writes the same tape simd-json would (`flat`); any other
//! record is copied into a padded buffer (small, so it stays in cache) and parsed there by
//! simd-json. The buffers and the tape are reset and reused for every record, so parsing allocates
//! nothing per record and never changes the input, which may be a read-only mapping of the file.
//! Records that cannot be used become [`Reject`]s with their file, line and raw text; they never
//! stop the run by themselves.

pub mod event;
mod flat;
pub mod reject;
pub mod song;
mod value;

use flat::FlatParser;
pub use reject::Reject;

use simd_json::{Buffers, Node, Tape, INPUT_PADDING};

/// Longest accepted line (or song object), in bytes. Longer ones are rejected unparsed, which bounds
/// the memory a hostile input can make a worker use.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One worker's reusable parsing state: the fast path's and simd-json's.
pub struct JsonParser {
    flat: FlatParser,
    buffers: Buffers,
    tape: Tape<'static>,
    /// The record being parsed, then at least [`INPUT_PADDING`] bytes simd-json may read past it.
    input: Vec<u8>,
}

impl Default for JsonParser {
    fn default() -> Self {
        Self {
            flat: FlatParser::default(),
            buffers: Buffers::new(4096),
            tape: Tape(Vec::with_capacity(256)),
            input: vec![b' '; 4096],
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
    /// The reject of `record`, which failed this way, at `file:line` (its text capped, as every
    /// reject's is).
    pub(crate) fn reject(&self, file: &str, line: u64, record: &[u8]) -> Reject {
        match self {
            ParseFailure::Syntax(e) => {
                Reject::new(file, line, format!("invalid JSON: {e}"), record)
            }
            ParseFailure::TooLong(n) => Reject::new(
                file,
                line,
                format!("record of {n} bytes exceeds the {MAX_RECORD_BYTES}-byte limit"),
                record,
            ),
        }
    }
}

impl JsonParser {
    /// Parses `record` and hands its tape to `f`.
    ///
    /// The flat-object fast path reads the record where it is. When it gives up, the record is
    /// copied into the parser's own buffer for simd-json, which unescapes strings in place and reads
    /// up to [`INPUT_PADDING`] bytes past the end: the input itself stays untouched (a reject keeps
    /// its original text, and the input may be mapped read-only).
    pub(crate) fn parse<R>(
        &mut self,
        record: &[u8],
        f: impl FnOnce(&[Node<'_>]) -> R,
    ) -> Result<R, ParseFailure> {
        let len = record.len();
        if len > MAX_RECORD_BYTES {
            return Err(ParseFailure::TooLong(len));
        }
        let mut tape: Tape<'_> = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        if self.flat.fill(record, &mut tape.0) {
            let outcome = f(&tape.0);
            self.tape = tape.reset();
            return Ok(outcome);
        }
        let mut tape: Tape<'_> = tape.reset();
        if self.input.len() < len + INPUT_PADDING {
            self.input.resize(len + INPUT_PADDING, b' ');
        }
        self.input[..len].copy_from_slice(record);
        let outcome =
            match simd_json::fill_tape_padded(&mut self.input, len, &mut self.buffers, &mut tape) {
                Ok(()) => Ok(f(&tape.0)),
                Err(e) => Err(ParseFailure::Syntax(e.to_string())),
            };
        self.tape = tape.reset();
        outcome
    }
}

/// Walks the lines of a buffer. Strips a UTF-8 BOM at the start of a file and CR before LF, skips
/// blank lines and tolerates a missing final newline.
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

/// A piece of a file that starts at a line boundary.
#[derive(Debug, Clone, Copy)]
pub struct Piece<'a> {
    /// The piece's bytes, a slice of the file's buffer.
    pub bytes: &'a [u8],
    /// Whether the piece is the start of its file (where a BOM may be).
    pub starts_file: bool,
}

/// Cuts `bytes` (the start of a file when `starts_file`) at line boundaries into pieces of about
/// `target` bytes, without copying, so that one large file can be parsed by several workers at once.
pub fn split_lines(mut bytes: &[u8], mut starts_file: bool, target: usize) -> Vec<Piece<'_>> {
    let mut pieces = Vec::with_capacity(bytes.len() / target.max(1) + 1);
    while !bytes.is_empty() {
        let end = match bytes
            .get(target..)
            .and_then(|rest| memchr::memchr(b'\n', rest))
        {
            Some(i) => target + i + 1,
            None => bytes.len(),
        };
        let (piece, rest) = bytes.split_at(end);
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
        let data = b"{\"a\":1}\n\n{\"b\":2}\n{\"c\":3}".to_vec();
        let whole: Vec<Vec<u8>> = lines_of(&data, true).into_iter().map(|l| l.1).collect();
        let mut parts = Vec::new();
        for p in split_lines(&data, true, 3) {
            parts.extend(lines_of(p.bytes, p.starts_file).into_iter().map(|l| l.1));
        }
        assert_eq!(parts, whole);
        assert_eq!(split_lines(&data, true, 3).len(), 3);
        assert_eq!(split_lines(&data, true, 100).len(), 1);
        assert!(split_lines(&[], true, 3).is_empty());
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
    fn records_parse_from_a_copy_and_the_input_is_unchanged() {
        let mut parser = JsonParser::default();
        let input = b"{\"a\":\"x\\/y\"}".to_vec();
        let got = parser.parse(&input, |tape| tape.len());
        assert!(matches!(got, Ok(3)));
        assert_eq!(input, b"{\"a\":\"x\\/y\"}");
        let long = vec![b' '; MAX_RECORD_BYTES + 1];
        assert!(matches!(
            parser.parse(&long, |_| ()),
            Err(ParseFailure::TooLong(n)) if n == MAX_RECORD_BYTES + 1
        ));
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(10_000));
        assert!(matches!(parser.parse(big.as_bytes(), |t| t.len()), Ok(3)));
    }
}
