//! Users and the session plan: who plays how many events on which day.

use std::ops::Range;

use super::json::{push_json_str, push_u64};
use super::rng::{Rng, TAG_DAYS, TAG_PLAN, TAG_USERS};
use super::vocab::{USER_AGENTS, USER_FIRST_F, USER_FIRST_M, USER_LAST, USER_LOCATIONS};

/// Events per user the user count aims at (the real logs have about 83).
pub(super) const EVENTS_PER_USER: u64 = 80;
/// 2018-11-01 as days since 1970-01-01.
pub(super) const FIRST_DAY: i64 = 17_836;
pub(super) const DAY_SECS: i64 = 86_400;
/// 2018-09-01T00:00:00Z; registrations fall in the two months before the logs start.
const REGISTRATION_FROM: u64 = 1_535_760_000;
const REGISTRATION_SPAN: u64 = 61 * 86_400;

/// A user, with the JSON fragments of the fields that never vary.
///
/// The five fragments run from one user field to the next event field's key:
/// 0 `,"auth":"Logged In","firstName":…,"gender":…,"itemInSession":`,
/// 1 `,"lastName":…,"length":`, 2 `,"location":…,"method":`,
/// 3 `,"registration":…,"sessionId":` and 4 `,"userAgent":…,"userId":"…"}`.
pub(super) struct User {
    fragments: [Box<[u8]>; 5],
    paid: bool,
}

impl User {
    pub(super) fn fragments(&self) -> [&[u8]; 5] {
        let f = &self.fragments;
        [&f[0], &f[1], &f[2], &f[3], &f[4]]
    }
}

/// [`User`] fragments of logged-out events.
pub(super) const LOGGED_OUT_FRAGMENTS: [&[u8]; 5] = [
    b",\"auth\":\"Logged Out\",\"firstName\":null,\"gender\":null,\"itemInSession\":",
    b",\"lastName\":null,\"length\":",
    b",\"location\":null,\"method\":",
    b",\"registration\":null,\"sessionId\":",
    b",\"userAgent\":null,\"userId\":\"\"}",
];

pub(super) fn build_users(seed: u64, n: usize) -> (Vec<User>, Vec<f64>) {
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
pub(super) struct SessionPlan {
    pub(super) id: u64,
    pub(super) user: u32,
    pub(super) len: u32,
    pub(super) paid: bool,
    /// The user upgrades or downgrades during this session.
    pub(super) change: bool,
}

/// All sessions in time order, and which of them fall on each day.
pub(super) struct Plan {
    pub(super) sessions: Vec<SessionPlan>,
    pub(super) days: Vec<Range<usize>>,
}

/// Splits `events` over `days` with random day weights; the counts sum to `events`.
pub(super) fn day_event_counts(seed: u64, events: u64, days: usize) -> Vec<u64> {
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
pub(super) fn plan_sessions(
    seed: u64,
    day_counts: &[u64],
    users: &[User],
    cumulative: &[f64],
) -> Plan {
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
