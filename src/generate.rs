//! Deterministic synthetic Sparkify data (`sparkify generate`).
//!
//! [`generate`] writes a `song_data/` tree in the S3 format and a `log_data/` tree of
//! NDJSON event logs under [`GenerateOptions::output`]. Both copy the formats and the
//! oddities of the public Udacity data set (see `data/NOTES.md`):
//!
//! * **Songs:** `song_data/<L1>/<L2>/<L3>/TR<L1><L2><L3>….json`, one compact object per
//!   file with the keys sorted, `\u00e9`-style escapes and `\/` slashes. Coordinates are
//!   often null, locations often `""`, years often 0. A few `artist_name` /
//!   `artist_location` values are JSON numbers, a few values have leading or trailing
//!   spaces, a few artist ids carry a different name or location on a later song, a few
//!   files are pretty-printed with a 4-space indent and a very few hold a second object (a
//!   copy of another song that also has its own file) after the first.
//! * **Logs:** `log_data/YYYY/MM/YYYY-MM-DD-events.json`, one compact object per line with
//!   the 18 keys in the real order and no newline after the last line. Events are sorted by
//!   `ts` and lie within the file's UTC day. Logged-out events have `userId` `""` and null
//!   user fields, user agents carry their CSV-style quotes, levels change on the event after
//!   a `Submit Upgrade` / `Submit Downgrade`, and non-ASCII text of unmatched songs is
//!   double-encoded mojibake, as in the real logs.
//!
//! A share [`GenerateOptions::match_rate`] of `NextSong` events copies a generated song's
//! `title`, `artist_name` and `duration` text exactly; all other `NextSong` events use a
//! pool of tracks checked to match no song (some share a song's title, or its title and
//! artist with another length), so [`GenerateSummary::matched_events`] is exact.
//!
//! Output depends only on the options: the PRNG is a hand-written xoshiro256** seeded
//! through SplitMix64, floating point is limited to exactly rounded operations, and every
//! day, session and song chunk uses its own stream, so the thread count changes no byte.

use std::collections::HashSet;
use std::fs;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::transform::time::civil_from_days;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Options for `sparkify generate`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Folder to write into; its `song_data` and `log_data` subfolders are replaced.
    pub output: std::path::PathBuf,
    /// Number of song files.
    pub songs: u64,
    /// Total number of log events, all pages.
    pub events: u64,
    /// Seed of the generator: the same options give byte-identical output.
    pub seed: u64,
    /// Share of `NextSong` events matching a song, `0.0..=1.0`.
    pub match_rate: f64,
    /// Number of days, starting 2018-11-01, that the events are spread over.
    pub days: u32,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            output: PathBuf::from("generated"),
            songs: 1_000,
            events: 100_000,
            seed: 42,
            match_rate: 0.5,
            days: 30,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Number of song files written.
    pub song_files: u64,
    /// Number of log files written (days without events get none).
    pub log_files: u64,
    /// Number of log events (lines) written.
    pub events: u64,
    /// Number of `NextSong` events.
    pub next_song_events: u64,
    /// `NextSong` events whose (song, artist, length) equal a song's (title, artist_name, duration).
    pub matched_events: u64,
    /// Total bytes written to song and log files.
    pub bytes: u64,
}

/// Errors of [`generate`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Creating, removing or writing a file or folder failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder concerned.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An option is out of range.
    #[error("invalid generate option: {0}")]
    Invalid(String),
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Generates song and log files as described in the [module docs](self).
///
/// Replaces `song_data` and `log_data` in `opts.output` (creating the folder if needed).
/// `songs: 0` writes an empty `song_data` (no event matches); `events: 0` writes an empty
/// `log_data`; both at 0 is [`Error::Invalid`].
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    generate_with_threads(opts, worker_threads())
}

/// Most worker threads used for writing files.
const MAX_THREADS: usize = 2;
/// Largest accepted `songs`.
const MAX_SONGS: u64 = 50_000_000;
/// Largest accepted `events`.
const MAX_EVENTS: u64 = 2_000_000_000;
/// Largest accepted `days`.
const MAX_DAYS: u32 = 36_500;

fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
}

fn generate_with_threads(opts: &GenerateOptions, threads: usize) -> Result<GenerateSummary> {
    validate(opts)?;
    let song_root = opts.output.join("song_data");
    let log_root = opts.output.join("log_data");
    reset_dir(&song_root)?;
    reset_dir(&log_root)?;

    let catalog = Catalog::build(opts.seed, opts.songs as usize);
    let song_bytes = write_songs(&catalog, &song_root, threads)?;
    let mut summary = GenerateSummary {
        song_files: opts.songs,
        log_files: 0,
        events: 0,
        next_song_events: 0,
        matched_events: 0,
        bytes: song_bytes,
    };
    if opts.events > 0 {
        let logs = write_logs(opts, &catalog, &log_root, threads)?;
        summary.log_files = logs.files;
        summary.events = logs.events;
        summary.next_song_events = logs.next_songs;
        summary.matched_events = logs.matched;
        summary.bytes += logs.bytes;
    }
    Ok(summary)
}

fn validate(opts: &GenerateOptions) -> Result<()> {
    let invalid = |msg: String| Err(Error::Invalid(msg));
    if opts.output.as_os_str().is_empty() {
        return invalid("output folder is empty".into());
    }
    if opts.songs == 0 && opts.events == 0 {
        return invalid("songs and events are both 0, nothing to generate".into());
    }
    if opts.songs > MAX_SONGS {
        return invalid(format!("songs = {} exceeds {MAX_SONGS}", opts.songs));
    }
    if opts.events > MAX_EVENTS {
        return invalid(format!("events = {} exceeds {MAX_EVENTS}", opts.events));
    }
    if !(0.0..=1.0).contains(&opts.match_rate) {
        return invalid(format!(
            "match_rate = {} is not within 0..=1",
            opts.match_rate
        ));
    }
    if opts.days == 0 || opts.days > MAX_DAYS {
        return invalid(format!("days = {} is not within 1..={MAX_DAYS}", opts.days));
    }
    Ok(())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Removes `dir` if it exists, then creates it (and its parents) empty.
fn reset_dir(dir: &Path) -> Result<()> {
    if fs::symlink_metadata(dir).is_ok() {
        fs::remove_dir_all(dir).map_err(io_err(dir))?;
    }
    fs::create_dir_all(dir).map_err(io_err(dir))
}

/// Runs `job(0..jobs)` on up to `threads` scoped threads; results come back in job order.
fn parallel_map<T: Send>(
    jobs: usize,
    threads: usize,
    job: &(dyn Fn(usize) -> Result<T> + Sync),
) -> Result<Vec<T>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || -> Result<Vec<(usize, T)>> {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= jobs {
                break;
            }
            match job(i) {
                Ok(value) => done.push((i, value)),
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(done)
    };
    let mut results = Vec::with_capacity(jobs);
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = (0..threads.clamp(1, jobs.max(1)))
            .map(|_| scope.spawn(worker))
            .collect();
        let mut first_err = None;
        for handle in handles {
            match handle.join() {
                Ok(Ok(done)) => results.extend(done),
                Ok(Err(e)) => first_err = first_err.or(Some(e)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        first_err.map_or(Ok(()), Err)
    })?;
    results.sort_unstable_by_key(|r| r.0);
    Ok(results.into_iter().map(|r| r.1).collect())
}

// ---------------------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------------------

/// Stream tags: each part of the output draws from its own stream.
const TAG_SONGS: u64 = 1;
const TAG_POOL: u64 = 2;
const TAG_USERS: u64 = 3;
const TAG_DAYS: u64 = 4;
const TAG_PLAN: u64 = 5;
const TAG_SESSION: u64 = 6;
const TAG_PLACE: u64 = 7;

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** with helpers; identical output on every platform.
#[derive(Clone)]
struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A stream for (`seed`, `tag`, `index`).
    fn new(seed: u64, tag: u64, index: u64) -> Self {
        let mut st = seed;
        let mut st = splitmix64(&mut st) ^ tag.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut st = splitmix64(&mut st) ^ index.wrapping_mul(0x8CB9_2BA7_2F3D_8DD7);
        let s = [
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
        ];
        Self { s }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform index into a non-empty slice of length `n`.
    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.index(items.len())]
    }

    /// Index in `0..n` (`n > 0`) skewed towards 0, so low indices are "popular".
    fn skewed(&mut self, n: usize) -> usize {
        let u = self.unit();
        ((u * u * n as f64) as usize).min(n - 1)
    }
}

// ---------------------------------------------------------------------------------------
// JSON text helpers
// ---------------------------------------------------------------------------------------

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
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
fn push_fixed5(out: &mut Vec<u8>, units: i64) {
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
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    s.chars().for_each(|c| push_json_char(out, c));
    out.push(b'"');
}

/// UTF-8 read as Latin-1, twice: `é` becomes `Ã\u{83}Â©`, as in the real logs.
fn double_mojibake(s: &str) -> String {
    let once: String = s.bytes().map(char::from).collect();
    once.bytes().map(char::from).collect()
}

fn json_str_bytes(s: &str) -> Box<[u8]> {
    let mut out = Vec::with_capacity(s.len() + 2);
    push_json_str(&mut out, s);
    out.into_boxed_slice()
}

/// A song attribute that is usually a string but sometimes a bare JSON number.
#[derive(Debug, Clone, PartialEq)]
enum JsonVal {
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

// ---------------------------------------------------------------------------------------
// Vocabulary (names and places), partly copied from the real data
// ---------------------------------------------------------------------------------------

const ADJECTIVES: &[&str] = &[
    "Black", "Blue", "Broken", "Burning", "Cold", "Crazy", "Dark", "Dead", "Deep", "Electric",
    "Empty", "Endless", "Fading", "Fallen", "Final", "Free", "Frozen", "Golden", "Good", "Green",
    "Heavy", "Hidden", "Holy", "Hollow", "Last", "Little", "Lonely", "Lost", "Loud", "Lucky",
    "Mad", "Midnight", "Modern", "Naked", "New", "Old", "Pretty", "Quiet", "Red", "Restless",
    "Sad", "Secret", "Silent", "Silver", "Simple", "Slow", "Strange", "Sweet", "Wild", "Young",
    "Velvet", "Wicked", "Wooden", "Hungry", "Sacred", "Sleepy", "Savage", "Tender", "Twisted",
    "Crystal",
];

const NOUNS: &[&str] = &[
    "Angel", "Heart", "Love", "Night", "Fire", "Rain", "River", "Road", "Dream", "Sun", "Moon",
    "Star", "Sky", "Ocean", "City", "Town", "Girl", "Boy", "Man", "Woman", "Soul", "World",
    "Train", "Song", "Dance", "Light", "Shadow", "Ghost", "Summer", "Winter", "Morning", "Time",
    "Money", "Highway", "Garden", "Mountain", "Window", "Mirror", "Kiss", "Tear", "Storm", "Wave",
    "Island", "Desert", "Forest", "Bridge", "Door", "Radio", "Machine", "Diamond", "Rose", "Wolf",
    "Tiger", "Horse", "Bird", "Queen", "King", "Child", "Stranger", "Letter", "Promise", "Memory",
    "Paradise", "Heaven", "Harbor", "Circus", "Engine", "Echo", "Thunder", "Candle", "Feather",
    "Anchor", "Lantern", "Valley", "Planet", "Comet", "Pilot", "Sailor", "Cowboy",
];

const PHRASES: &[&str] = &[
    "Don't Stop",
    "I'm Falling",
    "Take Me",
    "Hold On",
    "Let It Go",
    "Come Back",
    "Run Away",
    "Stay With Me",
    "Wake Up",
    "Walk Alone",
    "Dance With Me",
    "Ain't No",
    "Can't Stop",
    "Won't Back Down",
    "Rock 'n' Roll",
    "Livin' On",
    "Talkin' About",
    "Goin' Home",
    "Fly Away",
    "Shine On",
    "I Didn't Mean To",
    "Keepin' It Real",
    "Let's Live For",
];

const NON_ASCII_WORDS: &[&str] = &[
    "Café",
    "Mañana",
    "Señorita",
    "Déjà Vu",
    "Niño",
    "Corazón",
    "Canción",
    "Über Alles",
    "Fräulein",
    "Noël",
    "Amour Fou",
    "Été",
    "Cœur",
    "Naïve",
    "Jalapeño",
    "Göteborg",
    "Smörgåsbord",
    "Piñata",
    "Crème Brûlée",
    "¿Dónde Va?",
];

const SUFFIXES: &[&str] = &[
    " (Album Version)",
    " (LP Version)",
    " (Live)",
    " (Remix)",
    " (Radio Edit)",
    " (Acoustic)",
    " [Explicit]",
    " (Remastered)",
    " (Demo)",
    " (Instrumental Version)",
    " (Skit)",
];

const ARTIST_FIRST: &[&str] = &[
    "John",
    "Paul",
    "Mary",
    "Anna",
    "David",
    "Michael",
    "Sarah",
    "James",
    "Lisa",
    "Robert",
    "Maria",
    "Peter",
    "Linda",
    "Daniel",
    "Laura",
    "Chris",
    "Kelly",
    "Tony",
    "Nina",
    "Frank",
    "Grace",
    "Sam",
    "Ella",
    "Leo",
    "Ruby",
    "Max",
    "Iris",
    "Otis",
    "Etta",
    "Ray",
    "José",
    "Björk",
    "Zoë",
    "André",
    "Jürgen",
    "Søren",
    "Chloé",
    "Raúl",
    "Inés",
    "François",
];

const ARTIST_LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Miller",
    "Davis",
    "Wilson",
    "Moore",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "King",
    "Wright",
    "Hill",
    "Green",
    "Adams",
    "Baker",
    "Nelson",
    "Carter",
    "Mitchell",
    "Roberts",
    "Turner",
    "Phillips",
    "Parker",
    "Evans",
    "Edwards",
    "Collins",
    "Stewart",
    "Morris",
    "García",
    "Müller",
    "Núñez",
    "Sjöberg",
    "Lefèvre",
    "Gonçalves",
    "Dvořák",
    "O'Brien",
    "D'Angelo",
    "McCoy",
];

/// Artist locations with (latitude, longitude) in 1e-5 degrees.
const ARTIST_PLACES: &[(&str, i64, i64)] = &[
    ("London, England", 5_150_632, -12_714),
    ("Los Angeles, CA", 3_405_349, -11_824_532),
    ("New York, NY", 4_071_455, -7_400_712),
    ("Chicago, IL", 4_188_415, -8_763_241),
    ("Memphis, TN", 3_514_968, -9_004_892),
    ("Great Britain / UK", 5_431_392, -223_218),
    ("SWEDEN", 6_219_845, 1_755_142),
    ("Düsseldorf", 5_122_496, 677_612),
    ("Ubá, Minas Gerais", -2_112_236, -4_294_266),
    ("Torelló / Barcelona", 4_204_897, 226_364),
    ("Montréal, Québec, Canada", 4_551_217, -7_356_192),
    ("Wisner, LA", 3_197_825, -9_181_847),
    ("Seattle, WA", 4_760_356, -12_232_944),
    ("Kingston, Jamaica", 1_801_667, -7_679_999),
    ("Berlin, Germany", 5_251_607, 1_337_698),
    ("Paris, France", 4_885_693, 235_108),
    ("Reykjavík, Iceland", 6_414_607, -2_194_201),
    ("São Paulo, Brazil", -2_355_052, -4_663_332),
    ("Burlington, Ontario, Canada", 4_332_554, -7_979_893),
    ("California - LA", 3_405_349, -11_824_532),
    ("Detroit, MI", 4_233_143, -8_304_575),
    ("Nashville, TN", 3_616_778, -8_677_836),
    ("Texas", 3_145_106, -9_933_342),
    ("Brooklyn, NY", 4_065_507, -7_394_888),
    ("Manchester, England", 5_347_900, -224_881),
    ("Dublin, Ireland", 5_334_996, -626_026),
    ("Oslo, Norway", 5_991_228, 1_075_018),
    ("Tokyo, Japan", 3_567_054, 13_976_996),
    ("Monterrey, NL, México", 2_567_137, -10_030_850),
    ("Melbourne, Australia", -3_781_753, 14_496_282),
    ("Ohio", 4_017_323, -8_290_498),
    ("Orange County, CA", 3_371_766, -11_783_112),
    ("Glasgow, Scotland", 5_585_773, -425_663),
    ("Washington, D.C.", 3_889_037, -7_703_196),
];

const USER_FIRST_F: &[&str] = &[
    "Adelyn",
    "Aleena",
    "Alivia",
    "Amiya",
    "Anabelle",
    "Andrea",
    "Ann",
    "Ava",
    "Avery",
    "Ayla",
    "Ayleen",
    "Cecilia",
    "Celeste",
    "Chloe",
    "Cienna",
    "Cierra",
    "Emily",
    "Evelin",
    "Gianna",
    "Hannah",
    "Jacqueline",
    "Jaleah",
    "Jizelle",
    "Jordyn",
    "Kate",
    "Katherine",
    "Kaylee",
    "Kimber",
    "Kinsley",
    "Kynnedi",
    "Layla",
    "Lily",
    "Magdalene",
    "Maia",
    "Makinley",
    "Marina",
    "Molly",
    "Ryann",
    "Sara",
    "Shakira",
    "Sienna",
    "Stefany",
    "Sylvie",
    "Tegan",
    "Jayden",
];

const USER_FIRST_M: &[&str] = &[
    "Adler",
    "Aiden",
    "Austin",
    "Braden",
    "Brantley",
    "Brayden",
    "Bronson",
    "Carlos",
    "Christian",
    "Colm",
    "Connar",
    "Devin",
    "Dominick",
    "Dustin",
    "Elijah",
    "Harper",
    "Hayden",
    "Isaac",
    "Jacob",
    "Jahiem",
    "James",
    "Jayden",
    "Jordan",
    "Joseph",
    "Kaleb",
    "Kevin",
    "Martin",
    "Matthew",
    "Mohammad",
    "Morris",
    "Noah",
    "Preston",
    "Ryan",
    "Rylan",
    "Samuel",
    "Sean",
    "Theodore",
    "Tucker",
    "Walter",
    "Wyatt",
    "Zachary",
];

const USER_LAST: &[&str] = &[
    "Arellano",
    "Ayala",
    "Banks",
    "Barrera",
    "Barrett",
    "Bell",
    "Benjamin",
    "Benson",
    "Brock",
    "Burke",
    "Burns",
    "Butler",
    "Calhoun",
    "Carter",
    "Chavez",
    "Clark",
    "Colon",
    "Cook",
    "Cooper",
    "Cruz",
    "Cuevas",
    "Davidson",
    "Davis",
    "Duffy",
    "Finley",
    "Fox",
    "Freeman",
    "Frye",
    "Garrison",
    "Gay",
    "George",
    "Gilmore",
    "Gonzalez",
    "Graves",
    "Griffin",
    "Gutierrez",
    "Harrell",
    "Harris",
    "Hayes",
    "Herman",
    "Hess",
    "Hicks",
    "Hunt",
    "Johnson",
    "Jones",
    "Jordan",
    "Kirby",
    "Klein",
    "Koch",
    "Larson",
    "Lee",
    "Levine",
    "Lynch",
    "Martin",
    "Martinez",
    "Miles",
    "Moreno",
    "Norris",
    "Owens",
    "Parker",
    "Porter",
    "Powell",
    "Ramirez",
    "Robinson",
    "Rodriguez",
    "Rogers",
    "Rosales",
    "Roth",
    "Sanchez",
    "Sanders",
    "Santana",
    "Scott",
    "Simpson",
    "Smith",
    "Summers",
    "Sutton",
    "Taylor",
    "Terrell",
    "Thomas",
    "Valdez",
    "Watkins",
    "West",
    "White",
    "Williams",
    "Wilson",
    "Wise",
    "Young",
];

const USER_LOCATIONS: &[&str] = &[
    "Atlanta-Sandy Springs-Roswell, GA",
    "Augusta-Richmond County, GA-SC",
    "Birmingham-Hoover, AL",
    "Cedar Rapids, IA",
    "Chicago-Naperville-Elgin, IL-IN-WI",
    "Columbia, SC",
    "Dallas-Fort Worth-Arlington, TX",
    "Detroit-Warren-Dearborn, MI",
    "Elkhart-Goshen, IN",
    "Eugene, OR",
    "Eureka-Arcata-Fortuna, CA",
    "Harrisburg-Carlisle, PA",
    "Houston-The Woodlands-Sugar Land, TX",
    "Indianapolis-Carmel-Anderson, IN",
    "Janesville-Beloit, WI",
    "Klamath Falls, OR",
    "La Crosse-Onalaska, WI-MN",
    "Lake Havasu City-Kingman, AZ",
    "Lansing-East Lansing, MI",
    "Las Cruces, NM",
    "London, KY",
    "Longview, TX",
    "Los Angeles-Long Beach-Anaheim, CA",
    "Lubbock, TX",
    "Marinette, WI-MI",
    "Miami-Fort Lauderdale-West Palm Beach, FL",
    "Milwaukee-Waukesha-West Allis, WI",
    "Minneapolis-St. Paul-Bloomington, MN-WI",
    "Myrtle Beach-Conway-North Myrtle Beach, SC-NC",
    "Nashville-Davidson--Murfreesboro--Franklin, TN",
    "New Haven-Milford, CT",
    "New Orleans-Metairie, LA",
    "New York-Newark-Jersey City, NY-NJ-PA",
    "Ogden-Clearfield, UT",
    "Oxnard-Thousand Oaks-Ventura, CA",
    "Palestine, TX",
    "Parkersburg-Vienna, WV",
    "Pensacola-Ferry Pass-Brent, FL",
    "Philadelphia-Camden-Wilmington, PA-NJ-DE-MD",
    "Phoenix-Mesa-Scottsdale, AZ",
    "Plymouth, IN",
    "Portland-South Portland, ME",
    "Portland-Vancouver-Hillsboro, OR-WA",
    "Raleigh, NC",
    "Red Bluff, CA",
    "Richmond, VA",
    "Sacramento--Roseville--Arden-Arcade, CA",
    "Saginaw, MI",
    "Salinas, CA",
    "Salt Lake City, UT",
    "San Antonio-New Braunfels, TX",
    "San Diego-Carlsbad, CA",
    "San Francisco-Oakland-Hayward, CA",
    "San Jose-Sunnyvale-Santa Clara, CA",
    "Santa Rosa, CA",
    "Seattle-Tacoma-Bellevue, WA",
    "St. Louis, MO-IL",
    "Tampa-St. Petersburg-Clearwater, FL",
    "Washington-Arlington-Alexandria, DC-VA-MD-WV",
    "Waterloo-Cedar Falls, IA",
    "Winston-Salem, NC",
    "Youngstown-Warren-Boardman, OH-PA",
    "Yuba City, CA",
];

/// The 40 user agents of the real logs, decoded; those with a comma carry literal quotes.
const USER_AGENTS: &[&str] = &[
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36""#,
    r#""Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/35.0.1916.153 Safari/537.36""#,
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.77.4 (KHTML, like Gecko) Version/7.0.5 Safari/537.77.4""#,
    r#""Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/36.0.1985.125 Chrome/36.0.1985.125 Safari/537.36""#,
    r#""Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36""#,
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 Safari/537.36""#,
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.94 Safari/537.36""#,
    r#""Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 Safari/537.36""#,
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_8_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 Safari/537.36""#,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0",
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.78.2 (KHTML, like Gecko) Version/7.0.6 Safari/537.78.2""#,
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_3) AppleWebKit/537.75.14 (KHTML, like Gecko) Version/7.0.3 Safari/537.75.14""#,
    "Mozilla/5.0 (Windows NT 6.1; rv:31.0) Gecko/20100101 Firefox/31.0",
    r#""Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_1 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Version/7.0 Mobile/11D201 Safari/9537.53""#,
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    r#""Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.103 Safari/537.36""#,
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10) AppleWebKit/538.46 (KHTML, like Gecko) Version/8.0 Safari/538.46""#,
    r#""Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53""#,
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:32.0) Gecko/20100101 Firefox/32.0",
    r#""Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36""#,
    r#""Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.102 Safari/537.36""#,
    r#""Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36""#,
    r#""Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 Safari/537.36""#,
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_6_8) AppleWebKit/534.59.10 (KHTML, like Gecko) Version/5.1.9 Safari/534.59.10""#,
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; WOW64; Trident/6.0)",
    r#""Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.94 Safari/537.36""#,
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    r#""Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36""#,
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36""#,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:30.0) Gecko/20100101 Firefox/30.0",
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_3) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36""#,
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_2) AppleWebKit/537.75.14 (KHTML, like Gecko) Version/7.0.3 Safari/537.75.14""#,
    r#""Mozilla/5.0 (Windows NT 6.2; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 Safari/537.36""#,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.7; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)",
    r#""Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.94 Safari/537.36""#,
    "Mozilla/5.0 (Windows NT 6.3; WOW64; Trident/7.0; rv:11.0) like Gecko",
    r#""Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_3) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.94 Safari/537.36""#,
];

// ---------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------

fn person_name(rng: &mut Rng) -> String {
    let first = pick_mostly_ascii(rng, ARTIST_FIRST, |s| *s);
    let last = pick_mostly_ascii(rng, ARTIST_LAST, |s| *s);
    format!("{first} {last}")
}

/// Picks from `items`, usually re-drawing non-ASCII ones so that they stay a few percent.
fn pick_mostly_ascii<T: Copy>(rng: &mut Rng, items: &[T], text: impl Fn(&T) -> &str) -> T {
    let mut item = items[rng.index(items.len())];
    for _ in 0..3 {
        if text(&item).is_ascii() || !rng.chance(0.9) {
            break;
        }
        item = items[rng.index(items.len())];
    }
    item
}

fn song_title(rng: &mut Rng) -> String {
    let (adj, noun, noun2) = (rng.pick(ADJECTIVES), rng.pick(NOUNS), rng.pick(NOUNS));
    let mut title = match rng.below(20) {
        0..=4 => format!("{adj} {noun}"),
        5..=6 => noun.to_string(),
        7 => format!("The {noun} of {noun2}"),
        8 => format!("{noun} of the {noun2}"),
        9..=10 => rng.pick(PHRASES).to_string(),
        11..=12 => format!("{} {adj} {noun}", rng.pick(PHRASES)),
        13 => format!("{adj} {noun}s"),
        14 => format!("{noun} In The {noun2}"),
        15 if rng.chance(0.4) => format!("{adj} {}", rng.pick(NON_ASCII_WORDS)),
        16 => format!("{adj} {noun} {noun2}"),
        17 => format!("{noun}'s {noun2}"),
        18 => format!("{} {noun}", rng.pick(PHRASES)),
        _ => format!("{noun} {}", rng.below(100) + 1),
    };
    if rng.chance(0.12) {
        title.push_str(rng.pick(SUFFIXES));
    }
    if rng.chance(0.002) {
        title = format!("{title} (Parody of \"{noun2}\")");
    }
    whitespace_oddity(rng, title, 0.004)
}

fn artist_name(rng: &mut Rng) -> String {
    let (adj, noun) = (rng.pick(ADJECTIVES), rng.pick(NOUNS));
    let name = match rng.below(20) {
        0..=5 => person_name(rng),
        6..=8 => format!("The {adj} {noun}s"),
        9..=10 => format!("{adj} {noun}"),
        11 => format!("{noun}s"),
        12 => format!("{} & The {noun}s", person_name(rng)),
        13 => format!("DJ {adj} {noun}"),
        14 => format!("Lil' {noun}"),
        15 => format!("{} feat. {}", person_name(rng), person_name(rng)),
        16 => format!(
            "{};{};{}",
            person_name(rng),
            person_name(rng),
            person_name(rng)
        ),
        17 => format!("{} {noun} Orchestra", rng.pick(ARTIST_LAST)),
        18 => format!("{} Trio", person_name(rng)),
        19 if rng.chance(0.4) => format!("{noun} {}", rng.pick(NON_ASCII_WORDS)),
        _ => format!("{adj} {noun} Band"),
    };
    whitespace_oddity(rng, name, 0.003)
}

/// With probability `p`, adds a leading or trailing space.
fn whitespace_oddity(rng: &mut Rng, s: String, p: f64) -> String {
    if !rng.chance(p) {
        s
    } else if rng.chance(0.6) {
        s + " "
    } else {
        format!(" {s}")
    }
}

/// Song duration in 1e-5 seconds: mostly 100–400 s, a few 10–100 s or up to 1400 s.
fn duration_units(rng: &mut Rng) -> i64 {
    let whole = match rng.below(100) {
        0..=1 => rng.range(10, 99),
        2..=91 => rng.range(50, 200) + rng.range(50, 199),
        92..=98 => rng.range(400, 899),
        _ => rng.range(900, 1399),
    };
    (whole * 100_000 + rng.below(100_000)) as i64
}

// ---------------------------------------------------------------------------------------
// Song catalog
// ---------------------------------------------------------------------------------------

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
enum Layout {
    /// One compact object (nearly all files).
    Compact,
    /// One object, pretty-printed with a 4-space indent.
    Pretty,
    /// Pretty-printed, followed by a compact copy of song `usize` (which has its own file too).
    WithCopy(usize),
}

/// An artist; songs copy its attributes, a few with a variation.
struct Artist {
    id: String,
    name: JsonVal,
    location: JsonVal,
    /// Latitude and longitude in 1e-5 degrees.
    coords: Option<(i64, i64)>,
}

/// One generated song.
struct Song {
    track_id: String,
    dir: [u8; 3],
    song_id: String,
    artist: usize,
    artist_name: JsonVal,
    location: JsonVal,
    coords: Option<(i64, i64)>,
    title: String,
    /// Duration in 1e-5 seconds.
    duration: i64,
    year: u64,
    layout: Layout,
}

/// A (song, artist, length) triple as JSON fragments for `NextSong` events.
struct Track {
    /// `"artist"`.
    artist: Box<[u8]>,
    /// `"title","status":200,"ts":` (the rest of a `NextSong` line up to the `ts` value).
    song: Box<[u8]>,
    /// `246.30812`.
    length: Box<[u8]>,
    /// Length in whole seconds, rounded up (for the time line).
    secs: u64,
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
struct Catalog {
    artists: Vec<Artist>,
    songs: Vec<Song>,
    /// Tracks equal to a song (songs whose `artist_name` is a string), in song order.
    matchable: Vec<Track>,
}

impl Catalog {
    fn build(seed: u64, n_songs: usize) -> Self {
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

fn push_song_file(out: &mut Vec<u8>, catalog: &Catalog, i: usize) {
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

fn song_dir(root: &Path, dir: [u8; 3]) -> PathBuf {
    let mut path = root.to_path_buf();
    for letter in dir {
        path.push(char::from(letter).to_string());
    }
    path
}

/// Songs written per parallel job.
const SONG_CHUNK: usize = 512;

/// Writes all song files; returns the bytes written.
fn write_songs(catalog: &Catalog, root: &Path, threads: usize) -> Result<u64> {
    let mut dirs: Vec<[u8; 3]> = catalog.songs.iter().map(|s| s.dir).collect();
    dirs.sort_unstable();
    dirs.dedup();
    for dir in dirs {
        let path = song_dir(root, dir);
        fs::create_dir_all(&path).map_err(io_err(&path))?;
    }
    let chunks = catalog.songs.len().div_ceil(SONG_CHUNK);
    let job = |chunk: usize| -> Result<u64> {
        let end = ((chunk + 1) * SONG_CHUNK).min(catalog.songs.len());
        let mut buf = Vec::with_capacity(1024);
        let mut bytes = 0;
        for i in chunk * SONG_CHUNK..end {
            let song = &catalog.songs[i];
            let mut path = song_dir(root, song.dir);
            path.push(format!("{}.json", song.track_id));
            buf.clear();
            push_song_file(&mut buf, catalog, i);
            fs::write(&path, &buf).map_err(io_err(&path))?;
            bytes += buf.len() as u64;
        }
        Ok(bytes)
    };
    Ok(parallel_map(chunks, threads, &job)?.into_iter().sum())
}

/// Builds `size` tracks that match no song: mostly invented, some with a song's title, some
/// with a song's title and artist but another length. Non-ASCII text is double-encoded.
fn build_pool(seed: u64, songs: &[Song], size: usize) -> Vec<Track> {
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

// ---------------------------------------------------------------------------------------
// Users and session plan
// ---------------------------------------------------------------------------------------

/// Events per user the user count aims at (the real logs have about 83).
const EVENTS_PER_USER: u64 = 80;
/// 2018-11-01 as days since 1970-01-01.
const FIRST_DAY: i64 = 17_836;
const DAY_SECS: i64 = 86_400;
/// 2018-09-01T00:00:00Z; registrations fall in the two months before the logs start.
const REGISTRATION_FROM: u64 = 1_535_760_000;
const REGISTRATION_SPAN: u64 = 61 * 86_400;

/// A user, with the JSON fragments of the fields that never vary.
///
/// The five fragments run from one user field to the next event field's key:
/// 0 `,"auth":"Logged In","firstName":…,"gender":…,"itemInSession":`,
/// 1 `,"lastName":…,"length":`, 2 `,"location":…,"method":`,
/// 3 `,"registration":…,"sessionId":` and 4 `,"userAgent":…,"userId":"…"}`.
struct User {
    fragments: [Box<[u8]>; 5],
    paid: bool,
}

impl User {
    fn fragments(&self) -> [&[u8]; 5] {
        let f = &self.fragments;
        [&f[0], &f[1], &f[2], &f[3], &f[4]]
    }
}

/// [`User`] fragments of logged-out events.
const LOGGED_OUT_FRAGMENTS: [&[u8]; 5] = [
    b",\"auth\":\"Logged Out\",\"firstName\":null,\"gender\":null,\"itemInSession\":",
    b",\"lastName\":null,\"length\":",
    b",\"location\":null,\"method\":",
    b",\"registration\":null,\"sessionId\":",
    b",\"userAgent\":null,\"userId\":\"\"}",
];

fn build_users(seed: u64, n: usize) -> (Vec<User>, Vec<f64>) {
    let mut rng = Rng::new(seed, TAG_USERS, 0);
    let mut users = Vec::with_capacity(n);
    let mut cumulative = Vec::with_capacity(n);
    let mut total = 0.0;
    for i in 0..n {
        let user = gen_user(&mut rng, i);
        let u = rng.unit();
        total += (0.3 + 3.0 * u * u * u * u) * if user.paid { 8.0 } else { 1.0 };
        cumulative.push(total);
        users.push(user);
    }
    (users, cumulative)
}

fn gen_user(rng: &mut Rng, i: usize) -> User {
    let female = rng.chance(0.57);
    let first = rng.pick(if female { USER_FIRST_F } else { USER_FIRST_M });
    let mut head = b",\"auth\":\"Logged In\",\"firstName\":".to_vec();
    push_json_str(&mut head, first);
    head.extend_from_slice(if female {
        b",\"gender\":\"F\""
    } else {
        b",\"gender\":\"M\""
    });
    head.extend_from_slice(b",\"itemInSession\":");
    let mut last = b",\"lastName\":".to_vec();
    push_json_str(&mut last, rng.pick(USER_LAST));
    last.extend_from_slice(b",\"length\":");
    let mut location = b",\"location\":".to_vec();
    push_json_str(&mut location, rng.pick(USER_LOCATIONS));
    location.extend_from_slice(b",\"method\":");
    let mut registration = b",\"registration\":".to_vec();
    let ms = (REGISTRATION_FROM + rng.below(REGISTRATION_SPAN)) * 1000 + 796;
    push_u64(&mut registration, ms);
    registration.extend_from_slice(b".0,\"sessionId\":");
    let mut tail = b",\"userAgent\":".to_vec();
    push_json_str(&mut tail, rng.pick(USER_AGENTS));
    tail.extend_from_slice(b",\"userId\":\"");
    push_u64(&mut tail, i as u64 + 2);
    tail.extend_from_slice(b"\"}");
    User {
        fragments: [head, last, location, registration, tail].map(Vec::into_boxed_slice),
        paid: rng.chance(0.22),
    }
}

/// One session: `len` events of `user`, starting at level `paid`.
#[derive(Debug, Clone, Copy)]
struct SessionPlan {
    id: u64,
    user: u32,
    len: u32,
    paid: bool,
    /// The user upgrades or downgrades during this session.
    change: bool,
}

/// All sessions in time order, and which of them fall on each day.
struct Plan {
    sessions: Vec<SessionPlan>,
    days: Vec<Range<usize>>,
}

/// Splits `events` over `days` with random day weights; the counts sum to `events`.
fn day_event_counts(seed: u64, events: u64, days: usize) -> Vec<u64> {
    let mut rng = Rng::new(seed, TAG_DAYS, 0);
    let weights: Vec<f64> = (0..days).map(|_| 0.6 + 0.8 * rng.unit()).collect();
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let mut prev = 0;
    let mut counts = Vec::with_capacity(days);
    for (d, w) in weights.iter().enumerate() {
        acc += w;
        let upto = if d + 1 == days {
            events
        } else {
            ((acc / total * events as f64) as u64).min(events)
        };
        counts.push(upto - prev);
        prev = upto;
    }
    counts
}

/// Session length: mean about 9 events, up to 130.
fn session_len(rng: &mut Rng) -> u64 {
    match rng.below(100) {
        0..=49 => rng.range(1, 4),
        50..=79 => rng.range(5, 10),
        80..=93 => rng.range(11, 25),
        94..=98 => rng.range(26, 60),
        _ => rng.range(61, 130),
    }
}

fn pick_user(rng: &mut Rng, cumulative: &[f64]) -> usize {
    let total = cumulative.last().copied().unwrap_or(0.0);
    let x = rng.unit() * total;
    cumulative
        .partition_point(|&c| c <= x)
        .min(cumulative.len() - 1)
}

/// Plans every session day by day, tracking each user's level across sessions.
fn plan_sessions(seed: u64, day_counts: &[u64], users: &[User], cumulative: &[f64]) -> Plan {
    let mut rng = Rng::new(seed, TAG_PLAN, 0);
    let mut paid: Vec<bool> = users.iter().map(|u| u.paid).collect();
    let mut sessions = Vec::new();
    let mut days = Vec::with_capacity(day_counts.len());
    let mut next_id = 1 + rng.below(5);
    for &count in day_counts {
        let start = sessions.len();
        let mut remaining = count;
        while remaining > 0 {
            let user = pick_user(&mut rng, cumulative);
            let len = session_len(&mut rng).min(remaining);
            let was_paid = paid[user];
            let change = len >= 3 && rng.chance(if was_paid { 0.004 } else { 0.02 });
            paid[user] ^= change;
            sessions.push(SessionPlan {
                id: next_id,
                user: user as u32,
                len: len as u32,
                paid: was_paid,
                change,
            });
            next_id += 1 + u64::from(rng.chance(0.12));
            remaining -= len;
        }
        days.push(start..sessions.len());
    }
    Plan { sessions, days }
}

// ---------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------

/// The pages of the real logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    NextSong,
    Home,
    Login,
    Logout,
    Downgrade,
    Settings,
    Help,
    About,
    Upgrade,
    SaveSettings,
    Error,
    SubmitUpgrade,
    SubmitDowngrade,
}

impl Page {
    /// `"METHOD","page":"Page"` and, for events without a song, `null,"status":NNN,"ts":`.
    fn fragments(self) -> (&'static [u8], &'static [u8]) {
        macro_rules! frag {
            ($method:literal, $page:literal, $status:literal) => {
                (
                    concat!("\"", $method, "\",\"page\":\"", $page, "\"").as_bytes(),
                    concat!("null,\"status\":", $status, ",\"ts\":").as_bytes(),
                )
            };
        }
        match self {
            Self::NextSong => frag!("PUT", "NextSong", "200"),
            Self::Home => frag!("GET", "Home", "200"),
            Self::Login => frag!("PUT", "Login", "307"),
            Self::Logout => frag!("PUT", "Logout", "307"),
            Self::Downgrade => frag!("GET", "Downgrade", "200"),
            Self::Settings => frag!("GET", "Settings", "200"),
            Self::Help => frag!("GET", "Help", "200"),
            Self::About => frag!("GET", "About", "200"),
            Self::Upgrade => frag!("GET", "Upgrade", "200"),
            Self::SaveSettings => frag!("PUT", "Save Settings", "307"),
            Self::Error => frag!("GET", "Error", "404"),
            Self::SubmitUpgrade => frag!("PUT", "Submit Upgrade", "307"),
            Self::SubmitDowngrade => frag!("PUT", "Submit Downgrade", "307"),
        }
    }

    /// A redirect that follows the previous page within a second.
    fn is_quick(self) -> bool {
        matches!(
            self,
            Self::Logout | Self::SaveSettings | Self::SubmitUpgrade | Self::SubmitDowngrade
        )
    }
}

/// Page weights of logged-in events, from the real logs (`Upgrade` means Up- or Downgrade).
const LOGGED_IN_PAGES: &[(Page, u64)] = &[
    (Page::NextSong, 8800),
    (Page::Home, 700),
    (Page::Logout, 120),
    (Page::Upgrade, 105),
    (Page::Settings, 72),
    (Page::Help, 50),
    (Page::About, 30),
    (Page::Error, 12),
];
/// Page weights of logged-out events not right after a `Logout`.
const LOGGED_OUT_PAGES: &[(Page, u64)] = &[
    (Page::Home, 41),
    (Page::Login, 47),
    (Page::About, 7),
    (Page::Help, 5),
];

fn weighted_page(rng: &mut Rng, table: &[(Page, u64)]) -> Page {
    let total: u64 = table.iter().map(|t| t.1).sum();
    let mut x = rng.below(total);
    for &(page, weight) in table {
        if x < weight {
            return page;
        }
        x -= weight;
    }
    table[0].0
}

const FLAG_PAID: u8 = 1;
const FLAG_LOGGED_IN: u8 = 2;
const FLAG_MATCHED: u8 = 4;

/// One log event; `ts` holds the offset in seconds from the session start until placed.
#[derive(Debug, Clone, Copy)]
struct Ev {
    ts: i64,
    session: u64,
    track: u32,
    user: u32,
    item: u32,
    page: Page,
    flags: u8,
}

/// What a day (or the whole run) wrote.
#[derive(Debug, Default, Clone, Copy)]
struct LogStats {
    files: u64,
    events: u64,
    next_songs: u64,
    matched: u64,
    bytes: u64,
}

/// Everything the day writers share.
struct LogCtx<'a> {
    seed: u64,
    match_rate: f64,
    matchable: &'a [Track],
    pool: &'a [Track],
    users: &'a [User],
    plan: &'a Plan,
    root: &'a Path,
}

/// Page choice state within one session.
struct SessionState {
    paid: bool,
    logged_in: bool,
    prev: Option<Page>,
    /// Index of the `Upgrade`/`Downgrade` page of a planned level change.
    change_at: Option<u32>,
}

impl SessionState {
    fn next_page(&mut self, rng: &mut Rng, item: u32) -> Page {
        if let Some(p) = self.change_at {
            if item == p {
                return if self.paid {
                    Page::Downgrade
                } else {
                    Page::Upgrade
                };
            }
            if item == p + 1 {
                return if self.paid {
                    Page::SubmitDowngrade
                } else {
                    Page::SubmitUpgrade
                };
            }
            if item == p + 2 {
                self.paid = !self.paid;
                return Page::Home;
            }
        }
        if !self.logged_in {
            return match self.prev {
                Some(Page::Logout) => Page::Home,
                _ => weighted_page(rng, LOGGED_OUT_PAGES),
            };
        }
        match self.prev {
            Some(Page::Login) => return Page::Home,
            Some(Page::Settings) if rng.chance(0.18) => return Page::SaveSettings,
            _ => {}
        }
        match weighted_page(rng, LOGGED_IN_PAGES) {
            Page::Upgrade if self.paid => Page::Downgrade,
            Page::Logout if self.change_at.is_some_and(|p| item < p + 3) => Page::NextSong,
            page => page,
        }
    }
}

/// Seconds between the previous event and one showing `page`.
fn gap_before(rng: &mut Rng, page: Page, prev: Page, prev_secs: u64) -> i64 {
    let secs = if page.is_quick() {
        rng.below(2)
    } else if prev == Page::NextSong {
        if rng.chance(0.1) {
            rng.range(5, prev_secs.max(5))
        } else {
            prev_secs
        }
    } else if rng.chance(0.02) {
        0
    } else {
        rng.range(1, 120)
    };
    secs as i64
}

/// Appends the events of one session with `ts` = seconds since the session start.
fn build_session(ctx: &LogCtx, plan: &SessionPlan, out: &mut Vec<Ev>) {
    let mut rng = Rng::new(ctx.seed, TAG_SESSION, plan.id);
    let change_at =
        (plan.change && plan.len >= 3).then(|| rng.below(u64::from(plan.len) - 2) as u32);
    let mut st = SessionState {
        paid: plan.paid,
        logged_in: change_at.is_some() || !rng.chance(0.05),
        prev: None,
        change_at,
    };
    let (mut offset, mut prev_secs) = (0, 0);
    for item in 0..plan.len {
        let page = st.next_page(&mut rng, item);
        if let Some(prev) = st.prev {
            offset += gap_before(&mut rng, page, prev, prev_secs);
        }
        let mut flags =
            if st.paid { FLAG_PAID } else { 0 } | if st.logged_in { FLAG_LOGGED_IN } else { 0 };
        let mut track = 0;
        if page == Page::NextSong {
            let matched;
            (track, matched, prev_secs) = pick_track(ctx, &mut rng);
            flags |= if matched { FLAG_MATCHED } else { 0 };
        }
        out.push(Ev {
            ts: offset,
            session: plan.id,
            track,
            user: plan.user,
            item,
            page,
            flags,
        });
        match page {
            Page::Login => st.logged_in = true,
            Page::Logout => st.logged_in = false,
            _ => {}
        }
        st.prev = Some(page);
    }
}

/// Picks a matching song with probability `match_rate`, else a pool track.
fn pick_track(ctx: &LogCtx, rng: &mut Rng) -> (u32, bool, u64) {
    if !ctx.matchable.is_empty() && rng.chance(ctx.match_rate) {
        let i = rng.skewed(ctx.matchable.len());
        (i as u32, true, ctx.matchable[i].secs)
    } else {
        let i = rng.skewed(ctx.pool.len());
        (i as u32, false, ctx.pool[i].secs)
    }
}

/// Least gap in seconds between two sessions of one user on one day.
const SESSION_GAP: i64 = 300;

/// Reused buffers for placing one user's sessions.
#[derive(Default)]
struct PlaceScratch {
    durations: Vec<i64>,
    starts: Vec<i64>,
}

/// Gives one user's sessions (in plan order) non-overlapping start times within the day and
/// turns their offsets into epoch-millisecond `ts` values ending in `796`.
fn place_user_sessions(
    rng: &mut Rng,
    spans: &[Range<usize>],
    events: &mut [Ev],
    day_start: i64,
    scratch: &mut PlaceScratch,
) {
    let limit = DAY_SECS - 1;
    let last_offset = |span: &Range<usize>, events: &[Ev]| events[span.end - 1].ts;
    scratch.durations.clear();
    scratch
        .durations
        .extend(spans.iter().map(|s| last_offset(s, events)));
    let k = spans.len() as i64;
    let mut sum: i64 = scratch.durations.iter().sum();
    let mut gap = SESSION_GAP;
    if sum + (k - 1) * gap > limit {
        gap = 0;
    }
    if sum > limit {
        for (span, d) in spans.iter().zip(scratch.durations.iter_mut()) {
            for e in &mut events[span.clone()] {
                e.ts = (i128::from(e.ts) * i128::from(limit) / i128::from(sum)) as i64;
            }
            *d = last_offset(span, events);
        }
        sum = scratch.durations.iter().sum();
    }
    let slack = (limit - sum - (k - 1) * gap) as u64;
    scratch.starts.clear();
    scratch
        .starts
        .extend((0..k).map(|_| rng.range(0, slack) as i64));
    scratch.starts.sort_unstable();
    let mut consumed = 0;
    for ((span, &d), &start) in spans.iter().zip(&scratch.durations).zip(&scratch.starts) {
        let base = day_start + start + consumed;
        for e in &mut events[span.clone()] {
            e.ts = (base + e.ts) * 1000 + 796;
        }
        consumed += d + gap;
    }
}

/// Builds, places and sorts the events of day `day`.
fn day_events(ctx: &LogCtx, day: usize) -> Vec<Ev> {
    let sessions = &ctx.plan.sessions[ctx.plan.days[day].clone()];
    let mut events = Vec::new();
    let mut spans = Vec::with_capacity(sessions.len());
    for plan in sessions {
        let start = events.len();
        build_session(ctx, plan, &mut events);
        spans.push(start..events.len());
    }
    let mut order: Vec<usize> = (0..sessions.len()).collect();
    order.sort_by_key(|&i| sessions[i].user); // stable: keeps each user's plan order
    let mut rng = Rng::new(ctx.seed, TAG_PLACE, day as u64);
    let day_start = (FIRST_DAY + day as i64) * DAY_SECS;
    let mut scratch = PlaceScratch::default();
    let mut group_spans = Vec::new();
    for group in order.chunk_by(|&a, &b| sessions[a].user == sessions[b].user) {
        group_spans.clear();
        group_spans.extend(group.iter().map(|&i| spans[i].clone()));
        place_user_sessions(&mut rng, &group_spans, &mut events, day_start, &mut scratch);
    }
    events.sort_unstable_by_key(|e| (e.ts, e.session, e.item));
    events
}

/// Writes one event as a compact JSON object with the keys in the real order.
///
/// The line is assembled from pre-rendered fragments (see [`User`], [`Track`] and
/// [`Page::fragments`]) so that it takes about a dozen copies.
fn push_event(out: &mut Vec<u8>, ev: &Ev, ctx: &LogCtx) {
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

/// `log_data/YYYY/MM/YYYY-MM-DD-events.json` for day index `day`.
fn log_path(root: &Path, day: usize) -> PathBuf {
    let (y, m, d) = civil_from_days(FIRST_DAY + day as i64);
    root.join(format!("{y:04}"))
        .join(format!("{m:02}"))
        .join(format!("{y:04}-{m:02}-{d:02}-events.json"))
}

/// Bytes formatted before they are handed to the file writer.
const LOG_CHUNK: usize = 1 << 20;

/// Writes the log file of day `day` (none if the day has no events).
fn write_day(ctx: &LogCtx, day: usize) -> Result<LogStats> {
    let events = day_events(ctx, day);
    let mut stats = LogStats::default();
    if events.is_empty() {
        return Ok(stats);
    }
    let path = log_path(ctx.root, day);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let file = fs::File::create(&path).map_err(io_err(&path))?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    let mut buf = Vec::with_capacity(LOG_CHUNK + 4096);
    for (i, ev) in events.iter().enumerate() {
        if i > 0 {
            buf.push(b'\n');
        }
        push_event(&mut buf, ev, ctx);
        if buf.len() >= LOG_CHUNK {
            w.write_all(&buf).map_err(io_err(&path))?;
            stats.bytes += buf.len() as u64;
            buf.clear();
        }
        if ev.page == Page::NextSong {
            stats.next_songs += 1;
            stats.matched += u64::from(ev.flags & FLAG_MATCHED != 0);
        }
    }
    w.write_all(&buf).map_err(io_err(&path))?;
    w.flush().map_err(io_err(&path))?;
    stats.bytes += buf.len() as u64;
    stats.files = 1;
    stats.events = events.len() as u64;
    Ok(stats)
}

/// Plans the sessions and writes all log files.
fn write_logs(
    opts: &GenerateOptions,
    catalog: &Catalog,
    root: &Path,
    threads: usize,
) -> Result<LogStats> {
    let n_users = opts.events.div_ceil(EVENTS_PER_USER).max(1) as usize;
    let (users, cumulative) = build_users(opts.seed, n_users);
    let pool_size = (opts.events / 3).clamp(64, 200_000) as usize;
    let pool = build_pool(opts.seed, &catalog.songs, pool_size);
    let counts = day_event_counts(opts.seed, opts.events, opts.days as usize);
    let plan = plan_sessions(opts.seed, &counts, &users, &cumulative);
    let ctx = LogCtx {
        seed: opts.seed,
        match_rate: opts.match_rate,
        matchable: &catalog.matchable,
        pool: &pool,
        users: &users,
        plan: &plan,
        root,
    };
    let per_day = parallel_map(plan.days.len(), threads, &|day| write_day(&ctx, day))?;
    Ok(per_day.iter().fold(LogStats::default(), |acc, s| LogStats {
        files: acc.files + s.files,
        events: acc.events + s.events,
        next_songs: acc.next_songs + s.next_songs,
        matched: acc.matched + s.matched,
        bytes: acc.bytes + s.bytes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::{BTreeMap, HashMap};

    const LOG_KEYS: [&str; 18] = [
        "artist",
        "auth",
        "firstName",
        "gender",
        "itemInSession",
        "lastName",
        "length",
        "level",
        "location",
        "method",
        "page",
        "registration",
        "sessionId",
        "song",
        "status",
        "ts",
        "userAgent",
        "userId",
    ];
    const SONG_KEYS: [&str; 10] = [
        "artist_id",
        "artist_latitude",
        "artist_location",
        "artist_longitude",
        "artist_name",
        "duration",
        "num_songs",
        "song_id",
        "title",
        "year",
    ];

    /// A fresh, unique folder under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("sparkify-gen-{}-{name}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn opts(dir: &Path, songs: u64, events: u64, seed: u64) -> GenerateOptions {
        GenerateOptions {
            output: dir.to_path_buf(),
            songs,
            events,
            seed,
            match_rate: 0.5,
            days: 5,
        }
    }

    /// All files under `root` as (relative path, bytes), sorted.
    fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
        fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    let rel = path
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    out.insert(rel, fs::read(&path).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(root, root, &mut out);
        out
    }

    /// Top-level keys of a flat JSON object, in order (values are scalars only).
    fn keys_in_order(line: &str) -> Vec<String> {
        let b = line.as_bytes();
        let mut keys = Vec::new();
        let mut i = 1;
        let read_string = |i: &mut usize| -> String {
            let start = *i + 1;
            *i += 1;
            while b[*i] != b'"' {
                *i += if b[*i] == b'\\' { 2 } else { 1 };
            }
            *i += 1;
            line[start..*i - 1].to_string()
        };
        while i < b.len() && b[i] != b'}' {
            while b[i].is_ascii_whitespace() || b[i] == b',' {
                i += 1;
            }
            keys.push(read_string(&mut i));
            while b[i] != b':' {
                i += 1;
            }
            i += 1;
            while b[i].is_ascii_whitespace() {
                i += 1;
            }
            if b[i] == b'"' {
                read_string(&mut i);
            } else {
                while b[i] != b',' && b[i] != b'}' && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
            while b[i].is_ascii_whitespace() {
                i += 1;
            }
        }
        keys
    }

    fn song_objects(files: &BTreeMap<String, Vec<u8>>) -> Vec<Value> {
        files
            .iter()
            .filter(|(k, _)| k.starts_with("song_data"))
            .flat_map(|(_, v)| {
                let text = std::str::from_utf8(v).unwrap().to_string();
                serde_json::Deserializer::from_str(&text)
                    .into_iter::<Value>()
                    .map(|r| r.unwrap())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn log_lines(files: &BTreeMap<String, Vec<u8>>) -> Vec<(String, String)> {
        files
            .iter()
            .filter(|(k, _)| k.starts_with("log_data"))
            .flat_map(|(k, v)| {
                let text = std::str::from_utf8(v).unwrap();
                text.split('\n')
                    .map(|l| (k.clone(), l.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn same_seed_same_bytes_other_seed_differs() {
        let (a, b, c) = (TempDir::new("a"), TempDir::new("b"), TempDir::new("c"));
        let sa = generate(&opts(&a.0, 300, 20_000, 7)).unwrap();
        let sb = generate_with_threads(&opts(&b.0, 300, 20_000, 7), 1).unwrap();
        generate(&opts(&c.0, 300, 20_000, 8)).unwrap();
        assert_eq!(sa, sb);
        let (ta, tb, tc) = (tree(&a.0), tree(&b.0), tree(&c.0));
        assert_eq!(ta.len() as u64, sa.song_files + sa.log_files);
        assert_eq!(ta.values().map(|v| v.len() as u64).sum::<u64>(), sa.bytes);
        assert!(ta == tb, "same seed, different thread count: trees differ");
        assert!(ta != tc, "different seeds gave identical trees");
    }

    #[test]
    fn rerun_replaces_previous_output() {
        let dir = TempDir::new("rerun");
        generate(&opts(&dir.0, 200, 5_000, 1)).unwrap();
        fs::write(dir.0.join("keep.txt"), "other").unwrap();
        let s = generate(&opts(&dir.0, 50, 1_000, 2)).unwrap();
        let files = tree(&dir.0);
        assert_eq!(files.len() as u64, s.song_files + s.log_files + 1);
        assert_eq!(files["keep.txt"], b"other");
        assert_eq!(s.events, 1_000);
    }

    #[test]
    fn log_lines_are_valid_and_consistent() {
        let dir = TempDir::new("logs");
        let s = generate(&opts(&dir.0, 500, 30_000, 3)).unwrap();
        let files = tree(&dir.0);
        let mut users: HashMap<String, Vec<Value>> = HashMap::new();
        let mut sessions: HashMap<u64, String> = HashMap::new();
        let mut items = HashSet::new();
        let mut pages: HashMap<String, u64> = HashMap::new();
        let (mut next_songs, mut lines, mut prev_ts) = (0, 0, (String::new(), 0));
        for (file, line) in log_lines(&files) {
            lines += 1;
            assert!(line.is_ascii() && !line.is_empty());
            let v: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(keys_in_order(&line), LOG_KEYS);
            let page = v["page"].as_str().unwrap().to_string();
            let user_id = v["userId"].as_str().unwrap().to_string();
            let ts = v["ts"].as_u64().unwrap();
            assert_eq!(ts % 1000, 796);
            let key = (
                v["sessionId"].as_u64().unwrap(),
                v["itemInSession"].as_u64().unwrap(),
            );
            assert!(
                items.insert(key),
                "(sessionId, itemInSession) {key:?} repeats"
            );
            // Sorted by ts within the file, and on the file's UTC date.
            if prev_ts.0 == file {
                assert!(ts >= prev_ts.1, "{file} not sorted");
            }
            prev_ts = (file.clone(), ts);
            let (y, m, d) = civil_from_days((ts / 1000 / 86_400) as i64);
            assert!(file.ends_with(&format!("{y:04}/{m:02}/{y:04}-{m:02}-{d:02}-events.json")));
            let is_song = page == "NextSong";
            for key in ["song", "artist", "length"] {
                assert_eq!(!v[key].is_null(), is_song, "{key} on {line}");
            }
            if is_song {
                next_songs += 1;
                assert!(!user_id.is_empty());
                assert_eq!(v["method"], "PUT");
            }
            if user_id.is_empty() {
                assert_eq!(v["auth"], "Logged Out");
                assert!(
                    ["Home", "Login", "About", "Help"].contains(&page.as_str()),
                    "{page}"
                );
                for key in [
                    "firstName",
                    "lastName",
                    "gender",
                    "location",
                    "registration",
                    "userAgent",
                ] {
                    assert!(v[key].is_null());
                }
            } else {
                assert_eq!(v["auth"], "Logged In");
                assert!(
                    line.contains(".0,\"sessionId\""),
                    "registration is float text"
                );
                let sid = v["sessionId"].as_u64().unwrap();
                let owner = sessions.entry(sid).or_insert_with(|| user_id.clone());
                assert_eq!(*owner, user_id, "session shared by two users");
                users.entry(user_id).or_default().push(v.clone());
            }
            *pages.entry(page).or_default() += 1;
        }
        assert_eq!(lines, s.events);
        assert_eq!(next_songs, s.next_song_events);
        let share = next_songs as f64 / lines as f64;
        assert!((0.78..0.92).contains(&share), "NextSong share {share}");
        for page in [
            "Home",
            "Login",
            "Logout",
            "Settings",
            "Help",
            "About",
            "Downgrade",
            "Upgrade",
        ] {
            assert!(
                pages.get(page).copied().unwrap_or(0) > 0,
                "no {page} events"
            );
        }
        assert!(pages.contains_key("Submit Upgrade"));
        check_users(&users);
    }

    /// Fixed user attributes never vary; level changes only right after a Submit page.
    fn check_users(users: &HashMap<String, Vec<Value>>) {
        let mut changes = 0;
        for events in users.values() {
            let mut events = events.clone();
            events.sort_by_key(|e| {
                (
                    e["ts"].as_u64(),
                    e["sessionId"].as_u64(),
                    e["itemInSession"].as_u64(),
                )
            });
            for key in [
                "firstName",
                "lastName",
                "gender",
                "location",
                "userAgent",
                "registration",
            ] {
                assert!(
                    events.iter().all(|e| e[key] == events[0][key]),
                    "{key} varies"
                );
            }
            for pair in events.windows(2) {
                if pair[0]["level"] != pair[1]["level"] {
                    changes += 1;
                    let prev = pair[0]["page"].as_str().unwrap();
                    assert!(prev.starts_with("Submit "), "level changed after {prev}");
                }
            }
        }
        assert!(changes > 0, "no level changes");
    }

    #[test]
    fn matched_events_recount() {
        let dir = TempDir::new("match");
        let mut o = opts(&dir.0, 2_000, 40_000, 11);
        o.match_rate = 0.3;
        let s = generate(&o).unwrap();
        let files = tree(&dir.0);
        let songs = song_objects(&files);
        assert!(songs.len() as u64 >= s.song_files);
        let keys: HashSet<(String, String, u64)> = songs
            .iter()
            .filter_map(|v| {
                let title = v["title"].as_str()?.to_string();
                let artist = v["artist_name"].as_str()?.to_string();
                Some((title, artist, v["duration"].as_f64()?.to_bits()))
            })
            .collect();
        let mut matched = 0;
        for (_, line) in log_lines(&files) {
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["page"] != "NextSong" {
                continue;
            }
            let key = (
                v["song"].as_str().unwrap().to_string(),
                v["artist"].as_str().unwrap().to_string(),
                v["length"].as_f64().unwrap().to_bits(),
            );
            matched += u64::from(keys.contains(&key));
        }
        assert_eq!(matched, s.matched_events);
        let share = matched as f64 / s.next_song_events as f64;
        assert!((share - 0.3).abs() < 0.03, "match share {share}");
    }

    #[test]
    fn song_files_look_like_s3() {
        let dir = TempDir::new("songs");
        let s = generate(&opts(&dir.0, 6_000, 100, 5)).unwrap();
        let files = tree(&dir.0);
        let song_files: Vec<_> = files
            .iter()
            .filter(|(k, _)| k.starts_with("song_data"))
            .collect();
        assert_eq!(song_files.len() as u64, s.song_files);
        let (mut pretty, mut doubled, mut numbers, mut escapes) = (0, 0, 0, 0);
        for (path, bytes) in song_files {
            let text = std::str::from_utf8(bytes).unwrap();
            assert!(text.is_ascii() && !text.ends_with('\n'));
            let parts: Vec<&str> = path.split(std::path::MAIN_SEPARATOR).collect();
            let track = parts[4].strip_suffix(".json").unwrap();
            assert_eq!(track.len(), 18);
            assert_eq!(
                &track[2..5],
                format!("{}{}{}", parts[1], parts[2], parts[3])
            );
            let objects: Vec<Value> = serde_json::Deserializer::from_str(text)
                .into_iter::<Value>()
                .map(|r| r.unwrap())
                .collect();
            doubled += usize::from(objects.len() == 2);
            pretty += usize::from(text.starts_with("{\n    \"artist_id\": "));
            escapes += usize::from(text.contains("\\u"));
            let first_object = text.split('\n').next().unwrap();
            if !text.starts_with("{\n") {
                assert_eq!(keys_in_order(first_object), SONG_KEYS);
            }
            let o = &objects[0];
            numbers +=
                usize::from(o["artist_name"].is_number() || o["artist_location"].is_number());
            assert_eq!(o["num_songs"], 1);
            assert!(o["song_id"].as_str().unwrap().starts_with("SO"));
            assert!(o["artist_id"].as_str().unwrap().starts_with("AR"));
            let duration = o["duration"].as_f64().unwrap();
            assert!((10.0..1400.0).contains(&duration));
        }
        assert!(pretty > 0 && doubled > 0 && numbers > 0 && escapes > 0);
        assert!(pretty_keys_sorted(&files));
    }

    fn pretty_keys_sorted(files: &BTreeMap<String, Vec<u8>>) -> bool {
        let text = files
            .values()
            .map(|v| std::str::from_utf8(v).unwrap())
            .find(|t| t.starts_with("{\n"))
            .unwrap();
        let first = text.split("\n}").next().unwrap().to_string() + "\n}";
        keys_in_order(&first) == SONG_KEYS
    }

    #[test]
    fn zero_counts() {
        let dir = TempDir::new("zero");
        let s = generate(&opts(&dir.0, 0, 2_000, 1)).unwrap();
        assert_eq!((s.song_files, s.matched_events, s.events), (0, 0, 2_000));
        assert!(dir.0.join("song_data").is_dir());
        let s = generate(&opts(&dir.0, 100, 0, 1)).unwrap();
        assert_eq!((s.song_files, s.log_files, s.events), (100, 0, 0));
        assert_eq!(fs::read_dir(dir.0.join("log_data")).unwrap().count(), 0);
        let err = generate(&opts(&dir.0, 0, 0, 1)).unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err}");
    }

    #[test]
    fn invalid_options() {
        let dir = TempDir::new("invalid");
        let base = opts(&dir.0, 10, 10, 1);
        let bad = [
            GenerateOptions {
                match_rate: 1.5,
                ..base.clone()
            },
            GenerateOptions {
                match_rate: f64::NAN,
                ..base.clone()
            },
            GenerateOptions {
                days: 0,
                ..base.clone()
            },
            GenerateOptions {
                output: PathBuf::new(),
                ..base.clone()
            },
        ];
        for o in bad {
            assert!(matches!(generate(&o), Err(Error::Invalid(_))), "{o:?}");
        }
    }

    #[test]
    fn few_events_many_days() {
        let dir = TempDir::new("sparse");
        let mut o = opts(&dir.0, 10, 7, 9);
        o.days = 40;
        let s = generate(&o).unwrap();
        let files = tree(&dir.0);
        let logs: Vec<_> = files
            .iter()
            .filter(|(k, _)| k.starts_with("log_data"))
            .collect();
        assert_eq!(logs.len() as u64, s.log_files);
        assert!(logs.iter().all(|(_, v)| !v.is_empty()));
        assert_eq!(log_lines(&files).len(), 7);
        assert_eq!(s.events, 7);
    }

    #[test]
    fn number_formats() {
        let fmt = |u: i64| {
            let mut v = Vec::new();
            push_fixed5(&mut v, u);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(fmt(21_394_240), "213.9424");
        assert_eq!(fmt(20_000_000), "200.0");
        assert_eq!(fmt(-50_000), "-0.5");
        assert_eq!(fmt(24_630_812), "246.30812");
        assert_eq!(fmt(100_001), "1.00001");
        let mut v = Vec::new();
        push_json_str(&mut v, "Caf\u{e9} \"a/b\" \u{1F600}");
        assert_eq!(
            String::from_utf8(v).unwrap(),
            r#""Caf\u00e9 \"a\/b\" \ud83d\ude00""#
        );
        let mut v = Vec::new();
        push_json_str(&mut v, &double_mojibake("Caf\u{e9}"));
        assert_eq!(
            String::from_utf8(v).unwrap(),
            r#""Caf\u00c3\u0083\u00c2\u00a9""#
        );
        assert_eq!(civil_from_days(FIRST_DAY), (2018, 11, 1));
        assert_eq!(civil_from_days(FIRST_DAY + 30), (2018, 12, 1));
        assert_eq!(civil_from_days(FIRST_DAY + 61), (2019, 1, 1));
    }
}
