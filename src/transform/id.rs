//! The deterministic `songplay_id`.
//!
//! An event is identified by `(ts, userId, sessionId, itemInSession)`: a session's item counter at an
//! instant. The id is the first 60 bits of the MD5 of `"{ts}|{user_id}|{session_id}|{item}"`, read as
//! a positive BIGINT. It depends on the event alone — not on file order, run or machine — so reruns
//! and incremental loads give every event the same id, and exact duplicates collapse onto one row.
//! Both PostgreSQL and Redshift can compute it in SQL (`md5` + hex parsing), which the in-warehouse
//! ELT mode relies on.
//!
//! Every song play needs one, so ids are computed [`LANES`] at a time: the key always fits one MD5
//! block, and the 64 MD5 steps run on all lanes at once as plain array arithmetic, which the
//! compiler turns into SIMD instructions (one scalar MD5 is a chain of dependent steps that leaves
//! most of a core idle).

/// Keys hashed together.
const LANES: usize = 8;

/// One event's key fields.
pub type EventKey = (i64, i32, i32, i32);

/// The `songplay_id` of an event.
pub fn songplay_id(ts: i64, user_id: i32, session_id: i32, item_in_session: i32) -> i64 {
    let mut out = Vec::with_capacity(1);
    songplay_ids(&[(ts, user_id, session_id, item_in_session)], &mut out);
    out[0]
}

/// Appends the `songplay_id` of each key to `out`, in order.
pub fn songplay_ids(keys: &[EventKey], out: &mut Vec<i64>) {
    out.reserve(keys.len());
    for chunk in keys.chunks(LANES) {
        if chunk.iter().any(|k| k.0 < LONGEST_ONE_BLOCK_TS) {
            // A key this long needs a second MD5 block; parsing never lets such a `ts` through.
            out.extend(chunk.iter().map(|&k| md5_crate_id(k)));
            continue;
        }
        let mut words = [[0u32; LANES]; 16];
        for (lane, &key) in chunk.iter().enumerate() {
            let block = key_block(key);
            for (w, word) in words.iter_mut().enumerate() {
                let bytes = [
                    block[4 * w],
                    block[4 * w + 1],
                    block[4 * w + 2],
                    block[4 * w + 3],
                ];
                word[lane] = u32::from_le_bytes(bytes);
            }
        }
        let [a, b, _, _] = md5_lanes(&words);
        for lane in 0..chunk.len() {
            // The digest's first 8 bytes, big-endian, without their last hex digit.
            let high = u64::from(a[lane].swap_bytes()) << 32 | u64::from(b[lane].swap_bytes());
            out.push((high >> 4) as i64);
        }
    }
}

/// Below this a `ts` has 20 characters, and the key text (with three 11-character numbers and three
/// separators) would not leave MD5's 9 bytes of padding in one 64-byte block.
const LONGEST_ONE_BLOCK_TS: i64 = -999_999_999_999_999_999;

/// The id by the md-5 crate, one block or more.
fn md5_crate_id((ts, user, session, item): EventKey) -> i64 {
    use md5::{Digest, Md5};
    let digest = Md5::digest(format!("{ts}|{user}|{session}|{item}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 4) as i64
}

/// The single padded MD5 block of a key's text (at most 19 + 3 × 11 + 3 = 55 bytes).
fn key_block((ts, user, session, item): EventKey) -> [u8; 64] {
    let mut block = [0u8; 64];
    let mut len = write_int(&mut block, 0, ts);
    for n in [user, session, item] {
        block[len] = b'|';
        len = write_int(&mut block, len + 1, i64::from(n));
    }
    block[len] = 0x80;
    block[56..].copy_from_slice(&(len as u64 * 8).to_le_bytes());
    block
}

/// Writes `n` in decimal at `block[at..]`; returns the position after it.
fn write_int(block: &mut [u8; 64], at: usize, n: i64) -> usize {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(n).as_bytes();
    block[at..at + digits.len()].copy_from_slice(digits);
    at + digits.len()
}

const SHIFTS: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

/// MD5's constants: the integer part of |sin(i + 1)| × 2³².
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

type Lanes = [u32; LANES];

/// MD5 of one block per lane (`words[w][lane]` is word `w` of that lane's block): the final state
/// words `[a, b, c, d]`, initial values added.
fn md5_lanes(words: &[Lanes; 16]) -> [Lanes; 4] {
    const INIT: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let (mut a, mut b, mut c, mut d) = (
        [INIT[0]; LANES],
        [INIT[1]; LANES],
        [INIT[2]; LANES],
        [INIT[3]; LANES],
    );
    // Each step is expanded with its constants (word index, shift), so that every lane operation
    // is a fixed-width vector operation; a loop over the steps would keep them scalar.
    macro_rules! steps {
        ($($i:literal)*) => {$({
            const I: usize = $i;
            const G: usize = match I / 16 {
                0 => I,
                1 => (5 * I + 1) % 16,
                2 => (3 * I + 5) % 16,
                _ => (7 * I) % 16,
            };
            const SHIFT: u32 = SHIFTS[(I / 16) * 4 + I % 4];
            let mut next = [0u32; LANES];
            for l in 0..LANES {
                let f = match I / 16 {
                    0 => (b[l] & c[l]) | (!b[l] & d[l]),
                    1 => (d[l] & b[l]) | (!d[l] & c[l]),
                    2 => b[l] ^ c[l] ^ d[l],
                    _ => c[l] ^ (b[l] | !d[l]),
                };
                let sum = f
                    .wrapping_add(a[l])
                    .wrapping_add(K[I])
                    .wrapping_add(words[G][l]);
                next[l] = b[l].wrapping_add(sum.rotate_left(SHIFT));
            }
            (a, d, c, b) = (d, c, b, next);
        })*};
    }
    steps!(
        0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
        16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
        32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47
        48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63
    );
    let add = |x: Lanes, init: u32| x.map(|v| v.wrapping_add(init));
    [
        add(a, INIT[0]),
        add(b, INIT[1]),
        add(c, INIT[2]),
        add(d, INIT[3]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(ts: i64, user: i32, session: i32, item: i32) -> i64 {
        md5_crate_id((ts, user, session, item))
    }

    #[test]
    fn matches_the_sql_definition() {
        // python3: int(hashlib.md5(b"1542837407796|15|818|2").hexdigest()[:15], 16)
        assert_eq!(songplay_id(1542837407796, 15, 818, 2), 1139227754831891683);
    }

    #[test]
    fn lanes_match_md5_for_every_width_and_sign() {
        let mut keys = vec![
            (0, 0, 0, 0),
            (crate::parse::event::MAX_TS_MS, i32::MIN, i32::MIN, i32::MIN),
            (1, i32::MAX, -1, 7),
            (i64::MIN, i32::MIN, i32::MIN, i32::MIN),
            (-999_999_999_999_999_999, i32::MIN, i32::MIN, i32::MIN),
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..1000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let shift = (x % 48) as u32;
            keys.push((
                ((x >> 8) >> shift) as i64,
                (x >> 3) as i32 >> (x % 31),
                (x >> 11) as i32,
                (x >> 40) as i32 >> (x % 29),
            ));
        }
        let mut ids = Vec::new();
        songplay_ids(&keys, &mut ids);
        assert_eq!(ids.len(), keys.len());
        for (&(t, u, s, i), &id) in keys.iter().zip(&ids) {
            assert_eq!(id, reference(t, u, s, i), "{t}|{u}|{s}|{i}");
            assert!(id >= 0);
        }
    }

    #[test]
    fn is_positive_and_distinguishes_fields() {
        let a = songplay_id(1, 2, 3, 4);
        assert!(a > 0);
        assert_ne!(a, songplay_id(1, 2, 34, 0));
        assert_ne!(a, songplay_id(12, 3, 4, 0));
    }
}
