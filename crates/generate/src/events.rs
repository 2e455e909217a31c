//! Events: the pages of each session, their times within the day and their order.

use std::ops::Range;
use std::path::Path;

use super::catalog::Track;
use super::rng::{Rng, TAG_PLACE, TAG_SESSION};
use super::sessions::{Plan, SessionPlan, User, DAY_SECS, FIRST_DAY};

/// The pages of the real logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Page {
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
    pub(super) fn fragments(self) -> (&'static [u8], &'static [u8]) {
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

pub(super) const FLAG_PAID: u8 = 1;
pub(super) const FLAG_LOGGED_IN: u8 = 2;
pub(super) const FLAG_MATCHED: u8 = 4;

/// One log event; `ts` holds the offset in seconds from the session start until placed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ev {
    pub(super) ts: i64,
    pub(super) session: u64,
    pub(super) track: u32,
    pub(super) user: u32,
    pub(super) item: u32,
    pub(super) page: Page,
    pub(super) flags: u8,
}

/// Everything the day writers share.
pub(super) struct LogCtx<'a> {
    pub(super) seed: u64,
    pub(super) match_rate: f64,
    pub(super) matchable: &'a [Track],
    pub(super) pool: &'a [Track],
    pub(super) users: &'a [User],
    pub(super) plan: &'a Plan,
    pub(super) root: &'a Path,
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
pub(super) fn day_events(ctx: &LogCtx, day: usize) -> Vec<Ev> {
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
