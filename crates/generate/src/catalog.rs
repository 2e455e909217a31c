//! The song catalog: artists, songs and the tracks that log events refer to.

use std::collections::HashSet;

use super::json::{double_mojibake, json_str_bytes, push_fixed5, push_json_str, JsonVal};
use super::names::{
    artist_name, duration_units, person_name, pick_mostly_ascii, song_title, whitespace_oddity,
};
use super::rng::{Rng, TAG_POOL, TAG_SONGS};
use super::vocab::{ARTIST_FIRST, ARTIST_LAST, ARTIST_PLACES, NOUNS};

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const HEX_UPPER: &[u8] = b"0123456789ABCDEF";

/// Songs per leaf folder that the folder count aims at (the real data has about 22).
const SONGS_PER_DIR: usize = 24;
/// Number of `A/A/A` … `Z/Z/Z` folders.
const MAX_DIRS: usize = 26 * 26 * 26;

fn push_chars(rng: &mut Rng, s: &mut String, alphabet: &[u8], n: usize) {
    for _ in 0..n {
        s.push(char::from(alphabet[rng.index(alphabet.len())]));
    }
}

fn unique_id(
    rng: &mut Rng,
    seen: &mut HashSet<String>,
    make: impl Fn(&mut Rng) -> String,
) -> String {
    loop {
        let id = make(rng);
        if !seen.contains(&id) {
            seen.insert(id.clone());
            return id;
        }
    }
}

/// The three folder letters of leaf folder `dir` (`0` is `AAA`).
fn dir_letters(dir: usize) -> [u8; 3] {
    [UPPER[dir / 676 % 26], UPPER[dir / 26 % 26], UPPER[dir % 26]]
}

/// Track id like `TRAAAAK128F9318786` whose letters 3..5 are the folder letters.
fn track_id(rng: &mut Rng, dir: [u8; 3]) -> String {
    let mut id = String::with_capacity(18);
    id.push_str("TR");
    dir.iter().for_each(|&b| id.push(char::from(b)));
    push_chars(rng, &mut id, UPPER, 2);
    if rng.chance(0.8) {
        id.push_str("128F");
        push_chars(rng, &mut id, HEX_UPPER, 7);
    } else {
        id.push_str("12903");
        push_chars(rng, &mut id, HEX_UPPER, 6);
    }
    id
}

fn song_id(rng: &mut Rng) -> String {
    let mut id = String::from("SO");
    push_chars(rng, &mut id, UPPER, 5);
    id.push_str("12A");
    push_chars(rng, &mut id, HEX_UPPER, 8);
    id
}

fn artist_id(rng: &mut Rng) -> String {
    let mut id = String::from("AR");
    push_chars(rng, &mut id, UPPER_DIGITS, 5);
    id.push_str("1187");
    push_chars(rng, &mut id, HEX_UPPER, 7);
    id
}

/// How a song file is laid out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Layout {
    /// One compact object (nearly all files).
    Compact,
    /// One object, pretty-printed with a 4-space indent.
    Pretty,
    /// Pretty-printed, followed by a compact copy of song `usize` (which has its own file too).
    WithCopy(usize),
}

/// An artist; songs copy its attributes, a few with a variation.
pub(super) struct Artist {
    pub(super) id: String,
    name: JsonVal,
    location: JsonVal,
    /// Latitude and longitude in 1e-5 degrees.
    coords: Option<(i64, i64)>,
}

/// One generated song.
pub(super) struct Song {
    pub(super) track_id: String,
    pub(super) dir: [u8; 3],
    pub(super) song_id: String,
    pub(super) artist: usize,
    pub(super) artist_name: JsonVal,
    pub(super) location: JsonVal,
    pub(super) coords: Option<(i64, i64)>,
    pub(super) title: String,
    /// Duration in 1e-5 seconds.
    pub(super) duration: i64,
    pub(super) year: u64,
    pub(super) layout: Layout,
}

/// A (song, artist, length) triple as JSON fragments for `NextSong` events.
pub(super) struct Track {
    /// `"artist"`.
    pub(super) artist: Box<[u8]>,
    /// `"title","status":200,"ts":` (the rest of a `NextSong` line up to the `ts` value).
    pub(super) song: Box<[u8]>,
    /// `246.30812`.
    pub(super) length: Box<[u8]>,
    /// Length in whole seconds, rounded up (for the time line).
    pub(super) secs: u64,
}

impl Track {
    fn new(title: &str, artist: &str, duration: i64, mojibake: bool) -> Self {
        let (title, artist) = if mojibake {
            (double_mojibake(title), double_mojibake(artist))
        } else {
            (title.to_string(), artist.to_string())
        };
        let mut song = Vec::with_capacity(title.len() + 24);
        push_json_str(&mut song, &title);
        song.extend_from_slice(b",\"status\":200,\"ts\":");
        let mut length = Vec::with_capacity(12);
        push_fixed5(&mut length, duration);
        Self {
            artist: json_str_bytes(&artist),
            song: song.into_boxed_slice(),
            length: length.into_boxed_slice(),
            secs: duration.div_euclid(100_000) as u64 + 1,
        }
    }
}

/// All songs plus the tracks that log events refer to.
pub(super) struct Catalog {
    pub(super) artists: Vec<Artist>,
    pub(super) songs: Vec<Song>,
    /// Tracks equal to a song (songs whose `artist_name` is a string), in song order.
    pub(super) matchable: Vec<Track>,
}

impl Catalog {
    pub(super) fn build(seed: u64, n_songs: usize) -> Self {
        let mut rng = Rng::new(seed, TAG_SONGS, 0);
        let n_artists = if n_songs == 0 {
            0
        } else {
            (n_songs * 85 / 100).max(1)
        };
        let mut ids = HashSet::new();
        let artists: Vec<Artist> = (0..n_artists)
            .map(|_| gen_artist(&mut rng, &mut ids))
            .collect();
        let n_dirs = n_songs.div_ceil(SONGS_PER_DIR).clamp(1, MAX_DIRS);
        let songs: Vec<Song> = (0..n_songs)
            .map(|i| gen_song(&mut rng, &mut ids, &artists, i, n_songs, n_dirs))
            .collect();
        let matchable = songs
            .iter()
            .filter_map(|s| match &s.artist_name {
                JsonVal::Text(name) => Some(Track::new(&s.title, name, s.duration, false)),
                JsonVal::Number(_) => None,
            })
            .collect();
        Self {
            artists,
            songs,
            matchable,
        }
    }
}

fn gen_artist(rng: &mut Rng, ids: &mut HashSet<String>) -> Artist {
    let id = unique_id(rng, ids, artist_id);
    let name = if rng.chance(0.001) {
        JsonVal::Number(rng.range(2, 3000))
    } else {
        JsonVal::Text(artist_name(rng))
    };
    let (location, place) = artist_location(rng);
    let coords = match place {
        Some((_, lat, lon)) if rng.chance(0.64) => {
            let jitter = |rng: &mut Rng| rng.below(20_001) as i64 - 10_000;
            Some((lat + jitter(rng), lon + jitter(rng)))
        }
        _ => None,
    };
    Artist {
        id,
        name,
        location,
        coords,
    }
}

/// `""` for ~45%, a JSON number for a very few, else a place (sometimes with spaces).
fn artist_location(rng: &mut Rng) -> (JsonVal, Option<(&'static str, i64, i64)>) {
    if rng.chance(0.45) {
        return (JsonVal::Text(String::new()), None);
    }
    if rng.chance(0.002) {
        return (JsonVal::Number(rng.range(1, 200)), None);
    }
    let place = pick_mostly_ascii(rng, ARTIST_PLACES, |p| p.0);
    let text = whitespace_oddity(rng, place.0.to_string(), 0.005);
    (JsonVal::Text(text), Some(place))
}

fn gen_song(
    rng: &mut Rng,
    ids: &mut HashSet<String>,
    artists: &[Artist],
    i: usize,
    n_songs: usize,
    n_dirs: usize,
) -> Song {
    // Every artist gets one song; the rest go to popular artists.
    let artist = if i < artists.len() {
        i
    } else {
        rng.skewed(artists.len())
    };
    let a = &artists[artist];
    let mut artist_name = a.name.clone();
    let mut location = a.location.clone();
    let mut coords = a.coords;
    if i >= artists.len() && rng.chance(0.01) {
        if let JsonVal::Text(name) = &artist_name {
            artist_name = JsonVal::Text(format!("{} feat. {}", name.trim(), person_name(rng)));
        }
    }
    if i >= artists.len() && rng.chance(0.005) {
        location = artist_location(rng).0;
        coords = None;
    }
    let dir = dir_letters(rng.index(n_dirs));
    let layout = if n_songs >= 2 && rng.chance(0.001) {
        Layout::WithCopy((i + 1) % n_songs)
    } else if rng.chance(0.004) {
        Layout::Pretty
    } else {
        Layout::Compact
    };
    Song {
        track_id: unique_id(rng, ids, |r| track_id(r, dir)),
        dir,
        song_id: unique_id(rng, ids, song_id),
        artist,
        artist_name,
        location,
        coords,
        title: song_title(rng),
        duration: duration_units(rng),
        year: if rng.chance(0.3) {
            0
        } else {
            1950 + (60.0 * rng.unit().sqrt()) as u64
        },
        layout,
    }
}

/// Builds `size` tracks that match no song: mostly invented, some with a song's title, some
/// with a song's title and artist but another length. Non-ASCII text is double-encoded.
pub(super) fn build_pool(seed: u64, songs: &[Song], size: usize) -> Vec<Track> {
    let mut rng = Rng::new(seed, TAG_POOL, 0);
    let named: Vec<(&str, &str, i64)> = songs
        .iter()
        .filter_map(|s| match &s.artist_name {
            JsonVal::Text(name) => Some((s.title.as_str(), name.as_str(), s.duration)),
            JsonVal::Number(_) => None,
        })
        .collect();
    // Keys are trimmed so that an ETL that trims strings finds no extra match either.
    let keys: HashSet<(&str, &str, i64)> = named
        .iter()
        .map(|&(t, a, d)| (t.trim(), a.trim(), d))
        .collect();
    (0..size)
        .map(|_| {
            let (title, artist, mut duration) = pool_candidate(&mut rng, &named);
            // Shift the length until no song has this exact (title, artist, duration).
            while keys.contains(&(title.trim(), artist.trim(), duration)) {
                duration += 1;
            }
            Track::new(&title, &artist, duration, true)
        })
        .collect()
}

fn pool_candidate(rng: &mut Rng, named: &[(&str, &str, i64)]) -> (String, String, i64) {
    let kind = rng.below(100);
    if named.is_empty() || kind < 80 {
        let mut artist = artist_name(rng);
        if rng.chance(0.003) {
            // Like `Weird Al" Yankovic` in the real logs.
            artist = format!(
                "{} {}\" {}",
                rng.pick(ARTIST_FIRST),
                rng.pick(NOUNS),
                rng.pick(ARTIST_LAST)
            );
        }
        return (song_title(rng), artist, duration_units(rng));
    }
    let (title, artist, duration) = named[rng.index(named.len())];
    if kind < 92 {
        let delta = rng.range(1, 500_000) as i64;
        let other = if duration - delta >= 1_000_000 && rng.chance(0.5) {
            duration - delta
        } else {
            duration + delta
        };
        (title.to_string(), artist.to_string(), other)
    } else {
        (title.to_string(), artist_name(rng), duration_units(rng))
    }
}
