//! Names: song titles, artist and person names and song durations, drawn from the vocabulary.

use super::rng::Rng;
use super::vocab::{
    ADJECTIVES, ARTIST_FIRST, ARTIST_LAST, NON_ASCII_WORDS, NOUNS, PHRASES, SUFFIXES,
};

pub(super) fn person_name(rng: &mut Rng) -> String {
    let first = pick_mostly_ascii(rng, ARTIST_FIRST, |s| *s);
    let last = pick_mostly_ascii(rng, ARTIST_LAST, |s| *s);
    format!("{first} {last}")
}

/// Picks from `items`, usually re-drawing non-ASCII ones so that they stay a few percent.
pub(super) fn pick_mostly_ascii<T: Copy>(
    rng: &mut Rng,
    items: &[T],
    text: impl Fn(&T) -> &str,
) -> T {
    let mut item = items[rng.index(items.len())];
    for _ in 0..3 {
        if text(&item).is_ascii() || !rng.chance(0.9) {
            break;
        }
        item = items[rng.index(items.len())];
    }
    item
}

pub(super) fn song_title(rng: &mut Rng) -> String {
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

pub(super) fn artist_name(rng: &mut Rng) -> String {
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
pub(super) fn whitespace_oddity(rng: &mut Rng, s: String, p: f64) -> String {
    if !rng.chance(p) {
        s
    } else if rng.chance(0.6) {
        s + " "
    } else {
        format!(" {s}")
    }
}

/// Song duration in 1e-5 seconds: mostly 100–400 s, a few 10–100 s or up to 1400 s.
pub(super) fn duration_units(rng: &mut Rng) -> i64 {
    let whole = match rng.below(100) {
        0..=1 => rng.range(10, 99),
        2..=91 => rng.range(50, 200) + rng.range(50, 199),
        92..=98 => rng.range(400, 899),
        _ => rng.range(900, 1399),
    };
    (whole * 100_000 + rng.below(100_000)) as i64
}
