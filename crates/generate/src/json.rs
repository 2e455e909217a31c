//! JSON text primitives shared by the song and log formatters: numbers, escaped strings,
//! and the double-encoded mojibake of the real logs.

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Writes `v` in decimal.
pub(super) fn push_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Writes `units / 100000` as the shortest decimal text (`213.9424`, `200.0`, `-0.5`).
pub(super) fn push_fixed5(out: &mut Vec<u8>, units: i64) {
    if units < 0 {
        out.push(b'-');
    }
    let u = units.unsigned_abs();
    push_u64(out, u / 100_000);
    out.push(b'.');
    let mut frac = u % 100_000;
    let mut width = 5;
    while width > 1 && frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    let mut digits = [b'0'; 5];
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

fn push_json_char(out: &mut Vec<u8>, c: char) {
    match c {
        '"' => out.extend_from_slice(b"\\\""),
        '\\' => out.extend_from_slice(b"\\\\"),
        '/' => out.extend_from_slice(b"\\/"),
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.extend_from_slice(b"\\t"),
        c if c.is_ascii() && !c.is_ascii_control() => out.push(c as u8),
        c => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.extend_from_slice(b"\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX_LOWER[usize::from((*unit >> shift) & 0xF)]);
                }
            }
        }
    }
}

/// Writes `s` as an ASCII-only JSON string with `\uXXXX` escapes and `\/` slashes.
pub(super) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    s.chars().for_each(|c| push_json_char(out, c));
    out.push(b'"');
}

/// UTF-8 read as Latin-1, twice: `é` becomes `Ã\u{83}Â©`, as in the real logs.
pub(super) fn double_mojibake(s: &str) -> String {
    let once: String = s.bytes().map(char::from).collect();
    once.bytes().map(char::from).collect()
}

pub(super) fn json_str_bytes(s: &str) -> Box<[u8]> {
    let mut out = Vec::with_capacity(s.len() + 2);
    push_json_str(&mut out, s);
    out.into_boxed_slice()
}

/// A song attribute that is usually a string but sometimes a bare JSON number.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum JsonVal {
    Text(String),
    Number(u64),
}

impl JsonVal {
    /// Writes the value as JSON text.
    pub(super) fn push(&self, out: &mut Vec<u8>) {
        match self {
            Self::Text(s) => push_json_str(out, s),
            Self::Number(n) => push_u64(out, *n),
        }
    }
}
