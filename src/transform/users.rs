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

/// Each user's latest event seen in one piece of input. Their texts share one string, so a piece
/// allocates nothing per user (a piece sees thousands of users; this runs for every event).
#[derive(Debug, Default)]
pub struct ChunkUsers {
    latest: FxHashMap<i32, Latest>,
    text: String,
}

/// A user's latest event in a [`ChunkUsers`]: its order key and where its first name, last name,
/// gender and level are in the shared text (`None` for a missing field).
#[derive(Debug, Clone, Copy)]
struct Latest {
    ts: i64,
    item_in_session: i32,
    fields: [Option<(u32, u32)>; 4],
}

impl ChunkUsers {
    /// Records `event` for `user_id` if it is later (by `ts`, then `itemInSession`) than what is kept.
    #[inline(always)]
    pub fn observe(&mut self, user_id: i32, event: &Event<'_>) {
        let kept = self.latest.entry(user_id).or_insert(Latest {
            ts: i64::MIN,
            item_in_session: i32::MIN,
            fields: [None; 4],
        });
        if (event.ts, event.item_in_session) <= (kept.ts, kept.item_in_session) {
            return;
        }
        kept.ts = event.ts;
        kept.item_in_session = event.item_in_session;
        let values = [
            &event.first_name,
            &event.last_name,
            &event.gender,
            &event.level,
        ];
        for (slot, value) in kept.fields.iter_mut().zip(values) {
            *slot = value.as_deref().and_then(|v| {
                let start = u32::try_from(self.text.len()).ok()?;
                self.text.push_str(v);
                Some((start, v.len() as u32))
            });
        }
    }

    fn field(&self, at: Option<(u32, u32)>) -> Option<&str> {
        at.and_then(|(start, len)| self.text.get(start as usize..(start + len) as usize))
    }
}

/// Each user's latest event seen so far, over all pieces.
#[derive(Debug, Default, Clone)]
pub struct UserTracker {
    latest: FxHashMap<i32, LatestEvent>,
}

impl UserTracker {
    /// Folds a later piece's users into this tracker; on equal order keys the earlier piece wins.
    pub fn merge(&mut self, other: &ChunkUsers) {
        for (&user, event) in &other.latest {
            let kept = self.latest.entry(user).or_insert_with(|| LatestEvent {
                ts: i64::MIN,
                item_in_session: i32::MIN,
                ..LatestEvent::default()
            });
            if (event.ts, event.item_in_session) <= (kept.ts, kept.item_in_session) {
                continue;
            }
            kept.ts = event.ts;
            kept.item_in_session = event.item_in_session;
            let slots = [
                &mut kept.first_name,
                &mut kept.last_name,
                &mut kept.gender,
                &mut kept.level,
            ];
            for (slot, at) in slots.into_iter().zip(event.fields) {
                set(slot, other.field(at));
            }
        }
    }

    /// The tracker a published `users` table describes: each user's attributes and the time of
    /// their latest event (`level_at`). For a windowed run resumed after its earlier windows:
    /// every event still to come is later than those, so the event's position in its session,
    /// which the table does not keep, is never needed to order them.
    pub fn from_batch(batch: &RecordBatch) -> Result<Self, ArrowError> {
        use arrow::array::{Array, AsArray};
        use arrow::datatypes::{Int32Type, TimestampMicrosecondType};
        let wrong = |c: &str| ArrowError::SchemaError(format!("users.{c} has another type"));
        let ids = batch
            .column(0)
            .as_primitive_opt::<Int32Type>()
            .ok_or_else(|| wrong("user_id"))?;
        let at = batch
            .column(5)
            .as_primitive_opt::<TimestampMicrosecondType>()
            .ok_or_else(|| wrong("level_at"))?;
        let mut texts = Vec::with_capacity(4);
        for c in 1..=4 {
            texts.push(
                batch
                    .column(c)
                    .as_string_opt::<i32>()
                    .ok_or_else(|| wrong(USERS.columns[c].name))?,
            );
        }
        let text = |c: usize, row: usize| {
            let col = texts[c];
            col.is_valid(row).then(|| col.value(row).to_string())
        };
        let mut latest = FxHashMap::default();
        for row in 0..batch.num_rows() {
            latest.insert(
                ids.value(row),
                LatestEvent {
                    ts: at.value(row).div_euclid(1000),
                    item_in_session: i32::MIN,
                    first_name: text(0, row),
                    last_name: text(1, row),
                    gender: text(2, row),
                    level: text(3, row),
                },
            );
        }
        Ok(Self { latest })
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
        self.to_batch()
    }

    /// [`UserTracker::into_batch`] keeping the tracker: a windowed run writes the users so far
    /// after every window and goes on with them, so the table is built from references rather
    /// than from a copy of every user's texts.
    pub fn to_batch(&self) -> Result<(RecordBatch, Truncations), ArrowError> {
        let mut rows: Vec<(i32, &LatestEvent)> =
            self.latest.iter().map(|(id, e)| (*id, e)).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts: i64, item: i32, level: &str, first: Option<&str>) -> Event<'static> {
        Event {
            ts,
            item_in_session: item,
            level: Some(level.to_string().into()),
            first_name: first.map(|f| f.to_string().into()),
            ..Event::default()
        }
    }

    fn levels(tracker: UserTracker) -> Vec<(i32, String, String)> {
        let (batch, _) = tracker.into_batch().unwrap();
        let ids = arrow::array::as_primitive_array::<arrow::datatypes::Int32Type>(batch.column(0));
        let first = arrow::array::as_string_array(batch.column(1));
        let level = arrow::array::as_string_array(batch.column(4));
        (0..batch.num_rows())
            .map(|i| {
                (
                    ids.value(i),
                    first.value(i).to_string(),
                    level.value(i).to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn the_latest_event_wins_within_and_across_pieces() {
        let mut a = ChunkUsers::default();
        a.observe(1, &event(10, 0, "free", Some("Ann")));
        a.observe(1, &event(20, 0, "paid", Some("Anna")));
        a.observe(1, &event(15, 0, "free", Some("Old")));
        a.observe(2, &event(5, 1, "paid", None));
        let mut b = ChunkUsers::default();
        b.observe(1, &event(20, 0, "free", Some("Tie"))); // same order key: the earlier piece wins
        b.observe(2, &event(5, 2, "free", Some("Bob")));
        let mut all = UserTracker::default();
        all.merge(&a);
        all.merge(&b);
        assert_eq!(
            levels(all),
            vec![
                (1, "Anna".to_string(), "paid".to_string()),
                (2, "Bob".to_string(), "free".to_string())
            ]
        );
    }
}
