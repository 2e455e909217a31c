//! Song objects and log lines as the bytes of the real data set.

use super::catalog::{Artist, Catalog, Layout, Song};
use super::events::{Ev, LogCtx, Page, FLAG_LOGGED_IN, FLAG_MATCHED, FLAG_PAID};
use super::json::{push_fixed5, push_json_str, push_u64};
use super::sessions::LOGGED_OUT_FRAGMENTS;

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
