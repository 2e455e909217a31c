//! The `users` dimension: one row per user, with the attributes of their latest event.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, RecordBatch, TimestampMicrosecondArray};
use arrow::error::ArrowError;
use rustc_hash::FxHashMap;

use super::text::{TextColumn, Truncations};
use crate::parse::event::Event;
use crate::schema::USERS;

/// What is kept of a user's latest event.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LatestEvent {
    /// The event time (epoch ms).
    pub ts: i64,
    /// The event's position in its session, to order events of the same millisecond.
    pub item_in_session: i32,
    first_name: Option<String>,
    last_name: Option<String>,
    gender: Option<String>,
    level: Option<String>,
}

/// Overwrites `slot` with `value`, reusing its allocation.
fn set(slot: &mut Option<String>, value: Option<&str>) {
    match (slot.as_mut(), value) {
        (Some(s), Some(v)) => {
            s.clear();
            s.push_str(v);
        }
        (_, v) => *slot = v.map(str::to_string),
    }
}

/// Each user's latest event seen so far.
#[derive(Debug, Default, Clone)]
pub struct UserTracker {
    latest: FxHashMap<i32, LatestEvent>,
}

impl UserTracker {
    /// Records `event` for `user_id` if it is later (by `ts`, then `itemInSession`) than what is kept.
    pub fn observe(&mut self, user_id: i32, event: &Event<'_>) {
        let kept = self.latest.entry(user_id).or_insert_with(|| LatestEvent {
            ts: i64::MIN,
            ..LatestEvent::default()
        });
        if (event.ts, event.item_in_session) <= (kept.ts, kept.item_in_session) {
            return;
        }
        kept.ts = event.ts;
        kept.item_in_session = event.item_in_session;
        set(&mut kept.first_name, event.first_name.as_deref());
        set(&mut kept.last_name, event.last_name.as_deref());
        set(&mut kept.gender, event.gender.as_deref());
        set(&mut kept.level, event.level.as_deref());
    }

    /// Folds a later chunk's tracker into this one; on equal order keys the earlier chunk wins.
    pub fn merge(&mut self, other: UserTracker) {
        for (user, event) in other.latest {
            match self.latest.get_mut(&user) {
                Some(kept)
                    if (event.ts, event.item_in_session) <= (kept.ts, kept.item_in_session) => {}
                Some(kept) => *kept = event,
                None => {
                    self.latest.insert(user, event);
                }
            }
        }
    }

    /// Number of users seen.
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    /// Whether no user was seen.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// The `users` table, sorted by `user_id`, and the text cuts made.
    pub fn into_batch(self) -> Result<(RecordBatch, Truncations), ArrowError> {
        let mut rows: Vec<(i32, LatestEvent)> = self.latest.into_iter().collect();
        rows.sort_unstable_by_key(|(id, _)| *id);
        let n = rows.len();
        let cols = USERS.columns;
        let mut first = TextColumn::new(&cols[1], n);
        let mut last = TextColumn::new(&cols[2], n);
        let mut gender = TextColumn::new(&cols[3], n);
        let mut level = TextColumn::new(&cols[4], n);
        for (_, e) in &rows {
            first.append(e.first_name.as_deref());
            last.append(e.last_name.as_deref());
            gender.append(e.gender.as_deref());
            level.append(e.level.as_deref());
        }
        let mut cuts = Truncations::default();
        for (col, c) in [(1, &first), (2, &last), (3, &gender), (4, &level)] {
            cuts.add(USERS.name, cols[col].name, c.cut);
        }
        let ids = Int32Array::from_iter_values(rows.iter().map(|(id, _)| *id));
        let level_at =
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|(_, e)| e.ts * 1000));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ids),
            Arc::new(first.finish()),
            Arc::new(last.finish()),
            Arc::new(gender.finish()),
            Arc::new(level.finish()),
            Arc::new(level_at),
        ];
        Ok((RecordBatch::try_new(USERS.arrow_schema(), columns)?, cuts))
    }
}
