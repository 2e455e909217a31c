//! A fast path for the records sparkify reads: a flat JSON object (no nested object or array)
//! whose values are text, plain numbers, `true`, `false` or `null`.
//!
//! It reads the record once, in place, and writes the same tape simd-json would, so the decoders
//! after it cannot tell the two apart. Anything it is not sure of — a nested value, an exponent,
//! a long number, a lone surrogate, a control character, invalid UTF-8, a syntax error — makes it
//! give up, and the record goes to simd-json, which parses it or says why not. A test holds the two
//! to the same tape on real, generated and mutated lines.

use simd_json::{Node, StaticNode};

/// A string of the record that had escapes: its node's place on the tape and its unescaped text's
/// place in the scratch buffer, filled in once the record is read.
struct Unescaped {
    node: usize,
    start: usize,
    end: usize,
}

/// One worker's reusable fast-path state: the texts of the record being read that had escapes,
/// unescaped, and where they go on the tape.
#[derive(Default)]
pub(crate) struct FlatParser {
    scratch: String,
    unescaped: Vec<Unescaped>,
}

/// Powers of ten a double holds exactly, for the fast float path.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Digits a number may have on the fast path: 15 fit a double's mantissa exactly, and with at most
/// 22 after the point one correctly rounded division gives the correctly rounded value.
const MAX_DIGITS: usize = 15;

impl FlatParser {
    /// Fills `tape` with `record`'s tape and returns true, or returns false (the tape then holds
    /// nothing meaningful) when the record is not something this fast path reads.
    ///
    /// One pass writes the tape: texts without escapes borrow from the record; a text with escapes
    /// is unescaped into the scratch buffer and its node filled in at the end, when the buffer no
    /// longer grows.
    pub(crate) fn fill<'a>(&'a mut self, record: &'a [u8], tape: &mut Vec<Node<'a>>) -> bool {
        let Ok(text) = simdutf8::basic::from_utf8(record) else {
            return false;
        };
        self.scratch.clear();
        self.unescaped.clear();
        if self.scan(text, tape).is_none() {
            return false;
        }
        let this: &'a Self = self;
        for u in &this.unescaped {
            tape[u.node] = Node::String(&this.scratch[u.start..u.end]);
        }
        true
    }

    /// Writes the record's tape; `None` when it is not a flat object.
    fn scan<'a>(&mut self, text: &'a str, tape: &mut Vec<Node<'a>>) -> Option<()> {
        let s = text.as_bytes();
        let mut p = skip_space(s, 0);
        if *s.get(p)? != b'{' {
            return None;
        }
        let object = tape.len();
        tape.push(Node::Object { len: 0, count: 0 });
        p = skip_space(s, p + 1);
        let mut fields = 0;
        if *s.get(p)? != b'}' {
            loop {
                if *s.get(p)? != b'"' {
                    return None;
                }
                p = self.string(text, p + 1, tape)?;
                p = skip_space(s, p);
                if *s.get(p)? != b':' {
                    return None;
                }
                p = skip_space(s, p + 1);
                p = match *s.get(p)? {
                    b'"' => self.string(text, p + 1, tape)?,
                    b'n' => literal(s, p, b"null", StaticNode::Null, tape)?,
                    b't' => literal(s, p, b"true", StaticNode::Bool(true), tape)?,
                    b'f' => literal(s, p, b"false", StaticNode::Bool(false), tape)?,
                    _ => number(s, p, tape)?,
                };
                fields += 1;
                p = skip_space(s, p);
                match *s.get(p)? {
                    b',' => p = skip_space(s, p + 1),
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        tape[object] = Node::Object {
            len: fields,
            count: 2 * fields,
        };
        (skip_space(s, p + 1) == s.len()).then_some(())
    }

    /// Reads a string whose opening quote is just before `p` onto the tape and returns the
    /// position after its closing quote.
    #[inline(always)]
    fn string<'a>(&mut self, text: &'a str, p: usize, tape: &mut Vec<Node<'a>>) -> Option<usize> {
        let s = text.as_bytes();
        let stop = find_special(s, p)?;
        if s[stop] == b'"' {
            tape.push(Node::String(text.get(p..stop)?));
            return Some(stop + 1);
        }
        let (start, end, after) = self.unescape_string(text, p, stop)?;
        self.unescaped.push(Unescaped {
            node: tape.len(),
            start,
            end,
        });
        tape.push(Node::String(""));
        Some(after)
    }

    /// Unescapes a string with escapes (or a control character, which gives up) into the scratch
    /// buffer, from its first special byte at `stop`: returns where it lies there and the position
    /// after its closing quote.
    #[cold]
    #[inline(never)]
    fn unescape_string(
        &mut self,
        text: &str,
        p: usize,
        stop: usize,
    ) -> Option<(usize, usize, usize)> {
        let s = text.as_bytes();
        let start = self.scratch.len();
        let mut from = p;
        let mut at = stop;
        loop {
            // `from..at` lies between ASCII bytes of a valid UTF-8 record.
            self.scratch.push_str(text.get(from..at)?);
            match s[at] {
                b'"' => return Some((start, self.scratch.len(), at + 1)),
                b'\\' => {
                    let (c, next) = unescape(s, at + 1)?;
                    self.scratch.push(c);
                    from = next;
                    at = find_special(s, next)?;
                }
                _ => return None,
            }
        }
    }
}

fn skip_space(s: &[u8], mut p: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\r' | b'\n') = s.get(p) {
        p += 1;
    }
    p
}

fn literal(
    s: &[u8],
    p: usize,
    word: &[u8],
    node: StaticNode,
    tape: &mut Vec<Node<'_>>,
) -> Option<usize> {
    if !s[p..].starts_with(word) {
        return None;
    }
    tape.push(Node::Static(node));
    Some(p + word.len())
}

/// The first quote, backslash or control character at or after `p`, eight bytes at a time.
#[inline(always)]
fn find_special(s: &[u8], mut p: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = s.get(p..p + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        // The lowest flagged byte of each test is exact (a borrow only runs upwards), so the
        // lowest of the three is the first special byte.
        let hits = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | x.wrapping_sub(ONES * 0x20) & !x)
            & HIGH;
        if hits != 0 {
            return Some(p + (hits.trailing_zeros() / 8) as usize);
        }
        p += 8;
    }
    s[p..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| p + i)
}

/// The character an escape stands for (`p` is just after the backslash) and the position after it.
fn unescape(s: &[u8], p: usize) -> Option<(char, usize)> {
    let c = match *s.get(p)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let high = hex4(s, p + 1)?;
            if !(0xD800..0xE000).contains(&high) {
                return Some((char::from_u32(high)?, p + 5));
            }
            // A surrogate pair, high then low; a lone half goes to simd-json.
            if high >= 0xDC00 || s.get(p + 5..p + 7)? != b"\\u" {
                return None;
            }
            let low = hex4(s, p + 7)?;
            if !(0xDC00..0xE000).contains(&low) {
                return None;
            }
            let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            return Some((char::from_u32(c)?, p + 11));
        }
        _ => return None,
    };
    Some((c, p + 1))
}

fn hex4(s: &[u8], p: usize) -> Option<u32> {
    s.get(p..p + 4)?.iter().try_fold(0u32, |acc, &b| {
        let digit = char::from(b).to_digit(16)?;
        Some(acc << 4 | digit)
    })
}

/// A JSON number without an exponent and with at most [`MAX_DIGITS`] digits (an integer may have
/// 18). `-0` and `-0.0` go to simd-json, which owns their sign rules.
fn number(s: &[u8], p: usize, tape: &mut Vec<Node<'_>>) -> Option<usize> {
    let negative = s[p] == b'-';
    let int_start = p + usize::from(negative);
    let (mut mantissa, int_end) = digits(s, int_start, 0);
    let int_len = int_end - int_start;
    if int_len == 0 || int_len > 18 || (s[int_start] == b'0' && int_len > 1) {
        return None;
    }
    match s.get(int_end) {
        Some(b'.') => {
            let frac_end;
            (mantissa, frac_end) = digits(s, int_end + 1, mantissa);
            let frac_len = frac_end - int_end - 1;
            if frac_len == 0
                || int_len + frac_len > MAX_DIGITS
                || matches!(s.get(frac_end), Some(b'e' | b'E'))
            {
                return None;
            }
            if negative && mantissa == 0 {
                return None;
            }
            // Exact mantissa, exact power of ten: one correctly rounded division.
            let magnitude = mantissa as f64 / POW10[frac_len];
            let value = if negative { -magnitude } else { magnitude };
            tape.push(Node::Static(StaticNode::F64(value)));
            Some(frac_end)
        }
        Some(b'e' | b'E') => None,
        _ => {
            // Like simd-json: a negative integer is an `I64`, any other a `U64`.
            let node = match (negative, mantissa) {
                (false, _) => StaticNode::U64(mantissa),
                (true, 0) => return None,
                (true, _) => StaticNode::I64(-i64::try_from(mantissa).ok()?),
            };
            tape.push(Node::Static(node));
            Some(int_end)
        }
    }
}

/// Reads the digits from `p` on into `acc` (wrapping: the caller refuses more than 18 of them);
/// returns the value and the position after the last digit.
#[inline(always)]
fn digits(s: &[u8], mut p: usize, mut acc: u64) -> (u64, usize) {
    while let Some(&b) = s.get(p) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        acc = acc.wrapping_mul(10).wrapping_add(u64::from(digit));
        p += 1;
    }
    (acc, p)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;

    /// The fast path's tape of `record`, or `None` when it gives the record to simd-json.
    fn fast(record: &[u8]) -> Option<String> {
        let mut parser = FlatParser::default();
        let mut tape = Vec::new();
        parser.fill(record, &mut tape).then(|| format!("{tape:?}"))
    }

    /// simd-json's tape of `record`, or `None` when it is not valid JSON.
    fn simd(record: &[u8]) -> Option<String> {
        let mut copy = record.to_vec();
        simd_json::to_tape(&mut copy)
            .ok()
            .map(|tape| format!("{:?}", tape.0))
    }

    /// Whenever the fast path reads a record, simd-json reads it to the same tape (`{:?}` tells
    /// `-0.0` from `0.0` and prints every bit of a double).
    fn agrees(record: &[u8]) -> Result<bool, TestCaseError> {
        let Some(ours) = fast(record) else {
            return Ok(false);
        };
        let theirs = simd(record);
        prop_assert_eq!(
            Some(&ours),
            theirs.as_ref(),
            "{}",
            String::from_utf8_lossy(record)
        );
        Ok(true)
    }

    /// Every one of `records` goes through the fast path and agrees with simd-json.
    fn all_read_alike(what: &str, records: &[Vec<u8>]) {
        for record in records {
            assert!(
                agrees(record).unwrap(),
                "{what}: fast path gave up on {}",
                String::from_utf8_lossy(record)
            );
        }
    }

    fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files_under(&path, out);
            } else if crate::source::is_input_name(&path.to_string_lossy()) {
                out.push(path);
            }
        }
    }

    /// The records of the files under `root`: each line of a log file, each song file whole.
    fn records_of(root: &Path) -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        files_under(root, &mut files);
        let mut records = Vec::new();
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            if file.to_string_lossy().contains("song_data") {
                records.push(bytes);
            } else {
                records.extend(
                    bytes
                        .split(|&b| b == b'\n')
                        .filter(|l| !l.is_empty())
                        .map(<[u8]>::to_vec),
                );
            }
        }
        records
    }

    fn sample(dir: &str) -> Vec<Vec<u8>> {
        records_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(dir))
    }

    #[test]
    fn reads_every_real_record_as_simd_json_does() {
        for dir in ["log_data", "song_data"] {
            let records = sample(dir);
            assert!(records.len() > 70, "{dir}: {}", records.len());
            all_read_alike(dir, &records);
        }
    }

    #[test]
    fn reads_every_generated_record_as_simd_json_does() {
        let dir = tempfile::tempdir().unwrap();
        sparkify_generate::generate(&sparkify_generate::GenerateOptions {
            output: dir.path().to_path_buf(),
            songs: 300,
            events: 20_000,
            seed: 11,
            match_rate: 0.5,
            days: 2,
        })
        .unwrap();
        let records = records_of(dir.path());
        assert!(records.len() > 20_000);
        let escaped = records
            .iter()
            .filter(|r| r.windows(2).any(|w| w == b"\\u"))
            .count();
        assert!(escaped > 0, "the generated data has \\u escapes to check");
        all_read_alike("generated", &records);
    }

    #[test]
    fn gives_simd_json_what_it_is_not_sure_of() {
        for record in [
            r#"{"a":{"b":1}}"#,
            r#"{"a":[1]}"#,
            r#"[1]"#,
            r#"{"a":1e5}"#,
            r#"{"a":1.5E2}"#,
            r#"{"a":-0}"#,
            r#"{"a":-0.0}"#,
            r#"{"a":0123}"#,
            r#"{"a":1234567890123456789}"#,
            r#"{"a":1.234567890123456}"#,
            r#"{"a":"\ud83c"}"#,
            r#"{"a":"\udfb5\ud83c"}"#,
            r#"{"a":"\x"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":1}x"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":nul}"#,
            r#"{"a":1"#,
            "",
        ] {
            assert_eq!(fast(record.as_bytes()), None, "{record}");
        }
        assert_eq!(fast(b"{\"a\":\"\xff\"}"), None);
    }

    #[test]
    fn reads_escapes_numbers_and_space_as_simd_json_does() {
        for record in [
            r#"{}"#,
            r#" { "a" : "x" , "b" : null , "c" : true , "d" : false } "#,
            r#"{"a":"\"\\\/\b\f\n\r\t\u00e9\u20ac\ud83c\udfb5end"}"#,
            r#"{"k\u00e9y":"v"}"#,
            r#"{"a":"é€🎵"}"#,
            r#"{"a":0,"b":-7,"c":123456789012345678,"d":-123456789012345678}"#,
            r#"{"a":0.1,"b":-246.30812,"c":1540344794796.0,"d":0.00000000000001,"e":99999999999999.9}"#,
            r#"{"a":1,"a":2}"#,
        ] {
            assert!(
                agrees(record.as_bytes()).unwrap(),
                "fast path gave up on {record}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn agrees_with_simd_json_on_mutated_real_lines(
            line in 0usize..10_000,
            edits in proptest::collection::vec((0usize..400, 0usize..16, any::<u8>()), 1..4)
        ) {
            const PIECES: [&[u8]; 16] = [
                b"\\", b"\"", b"\\u", b"d83c", b"\\udfb5", b"e", b"-", b".", b"0", b"{", b"[",
                b" ", b"\t", b"\xc3\xa9", b"\x01", b"\\/",
            ];
            static LINES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
            let lines = LINES.get_or_init(|| sample("log_data"));
            let mut record = lines[line % lines.len()].clone();
            for (at, piece, byte) in edits {
                let at = at % (record.len() + 1);
                if piece == 15 {
                    record.insert(at, byte);
                } else {
                    record.splice(at..at, PIECES[piece].iter().copied());
                }
            }
            agrees(&record)?;
        }

        #[test]
        fn agrees_with_simd_json_on_numbers(
            int in any::<i64>(),
            wide in 0u64..1_000_000_000_000_000_000,
            digits in 0u32..16,
            frac in any::<u64>()
        ) {
            for text in [wide.to_string(), format!("-{wide}"), format!("{}.{}", wide / 100_000, wide % 100_000)] {
                agrees(format!("{{\"n\":{text}}}").as_bytes())?;
            }
            let frac = frac % 10u64.pow(digits.min(15));
            for text in [int.to_string(), format!("{int}.{frac:0width$}", width = digits as usize), format!("{}.{frac}", int % 100_000)] {
                agrees(format!("{{\"n\":{text}}}").as_bytes())?;
            }
        }
    }
}
