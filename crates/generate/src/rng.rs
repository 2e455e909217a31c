//! The PRNG: xoshiro256** seeded through SplitMix64, one stream per part of the output.

/// Stream tags: each part of the output draws from its own stream.
pub(super) const TAG_SONGS: u64 = 1;
pub(super) const TAG_POOL: u64 = 2;
pub(super) const TAG_USERS: u64 = 3;
pub(super) const TAG_DAYS: u64 = 4;
pub(super) const TAG_PLAN: u64 = 5;
pub(super) const TAG_SESSION: u64 = 6;
pub(super) const TAG_PLACE: u64 = 7;

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** with helpers; identical output on every platform.
#[derive(Clone)]
pub(super) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A stream for (`seed`, `tag`, `index`).
    pub(super) fn new(seed: u64, tag: u64, index: u64) -> Self {
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
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform index into a non-empty slice of length `n`.
    pub(super) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub(super) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.index(items.len())]
    }

    /// Index in `0..n` (`n > 0`) skewed towards 0, so low indices are "popular".
    pub(super) fn skewed(&mut self, n: usize) -> usize {
        let u = self.unit();
        ((u * u * n as f64) as usize).min(n - 1)
    }
}
