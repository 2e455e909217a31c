//! Byte formatting: numbers and JSON text, song objects and log lines.

use super::catalog::{Artist, Catalog, Layout, Song};
use super::events::{Ev, LogCtx, Page, FLAG_LOGGED_IN, FLAG_MATCHED, FLAG_PAID};
use super::sessions::LOGGED_OUT_FRAGMENTS;

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

pub(super) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
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
    fn push(&self, out: &mut Vec<u8>) {
        match self {
            Self::Text(s) => push_json_str(out, s),
            Self::Number(n) => push_u64(out, *n),
        }
    }
}

/// Writes object keys and separators, compact (`{"a":1}`) or indented like Python's `indent=4`.
struct ObjWriter<'a> {
    out: &'a mut Vec<u8>,
    pretty: bool,
    first: bool,
}

impl<'a> ObjWriter<'a> {
    fn new(out: &'a mut Vec<u8>, pretty: bool) -> Self {
        out.push(b'{');
        Self {
            out,
            pretty,
            first: true,
        }
    }

    /// Starts the member `key`; the caller then writes the value into `self.out`.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        if self.pretty {
            self.out.extend_from_slice(b"\n    ");
        }
        push_json_str(self.out, key);
        self.out
            .extend_from_slice(if self.pretty { b": " } else { b":" });
        self.out
    }

    fn finish(self) {
        self.out
            .extend_from_slice(if self.pretty { b"\n}" } else { b"}" });
    }
}

fn push_opt_fixed5(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(units) => push_fixed5(out, units),
        None => out.extend_from_slice(b"null"),
    }
}

/// Writes one song object in the S3 format (keys sorted).
fn push_song_object(out: &mut Vec<u8>, song: &Song, artist: &Artist, pretty: bool) {
    let mut w = ObjWriter::new(out, pretty);
    push_json_str(w.key("artist_id"), &artist.id);
    push_opt_fixed5(w.key("artist_latitude"), song.coords.map(|c| c.0));
    song.location.push(w.key("artist_location"));
    push_opt_fixed5(w.key("artist_longitude"), song.coords.map(|c| c.1));
    song.artist_name.push(w.key("artist_name"));
    push_fixed5(w.key("duration"), song.duration);
    push_u64(w.key("num_songs"), 1);
    push_json_str(w.key("song_id"), &song.song_id);
    push_json_str(w.key("title"), &song.title);
    push_u64(w.key("year"), song.year);
    w.finish();
}

pub(super) fn push_song_file(out: &mut Vec<u8>, catalog: &Catalog, i: usize) {
    let song = &catalog.songs[i];
    let artist = &catalog.artists[song.artist];
    match song.layout {
        Layout::Compact => push_song_object(out, song, artist, false),
        Layout::Pretty => push_song_object(out, song, artist, true),
        Layout::WithCopy(j) => {
            push_song_object(out, song, artist, true);
            out.push(b'\n');
            let copy = &catalog.songs[j];
            push_song_object(out, copy, &catalog.artists[copy.artist], false);
        }
    }
}

/// Writes one event as a compact JSON object with the keys in the real order.
///
/// The line is assembled from pre-rendered fragments (see [`User`](super::sessions::User),
/// [`Track`](super::catalog::Track) and [`Page::fragments`]) so that it takes about a dozen
/// copies.
pub(super) fn push_event(out: &mut Vec<u8>, ev: &Ev, ctx: &LogCtx) {
    let user = if ev.flags & FLAG_LOGGED_IN != 0 {
        ctx.users[ev.user as usize].fragments()
    } else {
        LOGGED_OUT_FRAGMENTS
    };
    let track = (ev.page == Page::NextSong).then(|| {
        let tracks = if ev.flags & FLAG_MATCHED != 0 {
            ctx.matchable
        } else {
            ctx.pool
        };
        &tracks[ev.track as usize]
    });
    let (method_page, no_song) = ev.page.fragments();
    out.extend_from_slice(b"{\"artist\":");
    out.extend_from_slice(track.map_or(b"null", |t| &t.artist));
    out.extend_from_slice(user[0]);
    push_u64(out, u64::from(ev.item));
    out.extend_from_slice(user[1]);
    out.extend_from_slice(track.map_or(b"null", |t| &t.length));
    out.extend_from_slice(if ev.flags & FLAG_PAID != 0 {
        b",\"level\":\"paid\""
    } else {
        b",\"level\":\"free\""
    });
    out.extend_from_slice(user[2]);
    out.extend_from_slice(method_page);
    out.extend_from_slice(user[3]);
    push_u64(out, ev.session);
    out.extend_from_slice(b",\"song\":");
    out.extend_from_slice(track.map_or(no_song, |t| &t.song));
    push_u64(out, ev.ts as u64);
    out.extend_from_slice(user[4]);
}
