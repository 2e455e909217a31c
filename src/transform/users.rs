//! The `users` dimension: one row per user, with the attributes of their latest event.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, RecordBatch, TimestampMicrosecondArray};
use arrow::error::ArrowError;
use rustc_hash::FxHashMap;

use super::text::{TextColumn, Truncations};
use crate::parse::event::Event;
use crate::schema::USERS;

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

/// A text kept once however many users share it: first names, last names, genders and levels
/// repeat across users, so a user holds four small numbers instead of four strings.
#[derive(Debug, Default, Clone)]
struct Texts {
    ids: FxHashMap<Arc<str>, u32>,
    values: Vec<Arc<str>>,
}

/// The text number of a missing field.
const NO_TEXT: u32 = u32::MAX;

impl Texts {
    /// The number of `value`, kept if new. Numbers cannot run out: each distinct text costs more
    /// than 16 bytes here, so four billion of them would exhaust the memory first.
    fn id(&mut self, value: Option<&str>) -> u32 {
        let Some(value) = value else {
            return NO_TEXT;
        };
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = self.values.len() as u32;
        let value: Arc<str> = Arc::from(value);
        self.values.push(Arc::clone(&value));
        self.ids.insert(value, id);
        id
    }

    fn get(&self, id: u32) -> Option<&str> {
        self.values.get(id as usize).map(|v| &**v)
    }
}

/// What is kept of a user's latest event: its order key and its four texts' numbers (first
/// name, last name, gender, level); 32 bytes.
#[derive(Debug, Clone, Copy)]
struct User {
    /// The event time (epoch ms).
    ts: i64,
    /// The event's position in its session, to order events of the same millisecond.
    item_in_session: i32,
    id: i32,
    texts: [u32; 4],
}

/// Each user's latest event seen so far, over all pieces. Compact, because a windowed run keeps
/// every user of the input for the whole run: a user takes ~45 bytes (its record, its slot in
/// the index, its share of the distinct texts).
#[derive(Debug, Default, Clone)]
pub struct UserTracker {
    /// Position of each user in `users`.
    slots: FxHashMap<i32, u32>,
    users: Vec<User>,
    texts: Texts,
}

impl UserTracker {
    /// The record of `id`, created empty (ordered before any event) if new, and the table of
    /// texts its fields are numbers into.
    fn user(&mut self, id: i32) -> (&mut User, &mut Texts) {
        let users = &mut self.users;
        let slot = *self.slots.entry(id).or_insert_with(|| {
            users.push(User {
                ts: i64::MIN,
                item_in_session: i32::MIN,
                id,
                texts: [NO_TEXT; 4],
            });
            (users.len() - 1) as u32
        });
        (&mut self.users[slot as usize], &mut self.texts)
    }

    /// Folds a later piece's users into this tracker; on equal order keys the earlier piece wins.
    pub fn merge(&mut self, other: &ChunkUsers) {
        for (&id, event) in &other.latest {
            let (kept, texts) = self.user(id);
            if (event.ts, event.item_in_session) <= (kept.ts, kept.item_in_session) {
                continue;
            }
            kept.ts = event.ts;
            kept.item_in_session = event.item_in_session;
            for (text, at) in kept.texts.iter_mut().zip(event.fields) {
                *text = texts.id(other.field(at));
            }
        }
        self.drop_unused_texts();
    }

    /// Drops the texts no user holds any more once they outnumber twice those the users can
    /// hold (four each), so that replaced texts (an input with a new name in every event) cannot
    /// grow the table with the input; each text added costs O(1) of this work on average.
    fn drop_unused_texts(&mut self) {
        if self.texts.values.len() <= 8 * self.users.len() + 1024 {
            return;
        }
        let mut kept = Texts::default();
        for user in &mut self.users {
            for text in &mut user.texts {
                *text = kept.id(self.texts.get(*text));
            }
        }
        self.texts = kept;
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
        let mut columns = Vec::with_capacity(4);
        for c in 1..=4 {
            columns.push(
                batch
                    .column(c)
                    .as_string_opt::<i32>()
                    .ok_or_else(|| wrong(USERS.columns[c].name))?,
            );
        }
        let mut tracker = Self::default();
        for row in 0..batch.num_rows() {
            let mut texts = [NO_TEXT; 4];
            for (text, column) in texts.iter_mut().zip(&columns) {
                *text = tracker
                    .texts
                    .id(column.is_valid(row).then(|| column.value(row)));
            }
            *tracker.user(ids.value(row)).0 = User {
                ts: at.value(row).div_euclid(1000),
                item_in_session: i32::MIN,
                id: ids.value(row),
                texts,
            };
        }
        Ok(tracker)
    }

    /// Number of users seen.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether no user was seen.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The `users` table, sorted by `user_id`, and the text cuts made. It keeps the tracker: a
    /// windowed run writes the users so far after every window and goes on with them.
    pub fn to_batch(&self) -> Result<(RecordBatch, Truncations), ArrowError> {
        let mut rows: Vec<&User> = self.users.iter().collect();
        rows.sort_unstable_by_key(|u| u.id);
        let n = rows.len();
        let cols = USERS.columns;
        let mut texts: [TextColumn; 4] = std::array::from_fn(|c| TextColumn::new(&cols[c + 1], n));
        for user in &rows {
            for (column, &id) in texts.iter_mut().zip(&user.texts) {
                column.append(self.texts.get(id));
            }
        }
        let mut cuts = Truncations::default();
        for (c, column) in texts.iter().enumerate() {
            cuts.add(USERS.name, cols[c + 1].name, column.cut);
        }
        let ids = Int32Array::from_iter_values(rows.iter().map(|u| u.id));
        let level_at =
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|u| u.ts * 1000));
        let [first, last, gender, level] = texts.map(|mut c| Arc::new(c.finish()) as ArrayRef);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ids),
            first,
            last,
            gender,
            level,
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
        let (batch, _) = tracker.to_batch().unwrap();
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

    #[test]
    fn a_written_table_reads_back_as_the_same_users() {
        let mut piece = ChunkUsers::default();
        piece.observe(7, &event(30, 2, "paid", Some("Ann")));
        piece.observe(3, &event(40, 0, "free", Some("Ann"))); // the same first name, kept once
        piece.observe(5, &event(50, 1, "free", None)); // a missing name stays NULL
        let mut tracker = UserTracker::default();
        tracker.merge(&piece);
        assert_eq!(tracker.texts.values.len(), 3, "Ann, paid, free");
        let (written, _) = tracker.to_batch().unwrap();
        let read = UserTracker::from_batch(&written).unwrap();
        assert_eq!(read.to_batch().unwrap().0, written);
        let first = arrow::array::as_string_array(written.column(1));
        assert!(
            arrow::array::Array::is_null(first, 1),
            "user 5 has no first name"
        );

        // A resumed run's later event replaces the read-back one.
        let mut resumed = read;
        let mut later = ChunkUsers::default();
        later.observe(5, &event(60, 0, "paid", Some("Eve")));
        resumed.merge(&later);
        assert_eq!(
            levels(resumed),
            vec![
                (3, "Ann".to_string(), "free".to_string()),
                (5, "Eve".to_string(), "paid".to_string()),
                (7, "Ann".to_string(), "paid".to_string()),
            ]
        );
    }

    #[test]
    fn replaced_texts_do_not_pile_up() {
        let mut tracker = UserTracker::default();
        for ts in 0..10_000 {
            let mut piece = ChunkUsers::default();
            let name = format!("name-{ts}");
            piece.observe(1, &event(ts, 0, "free", Some(&name)));
            tracker.merge(&piece);
        }
        assert!(tracker.texts.values.len() <= 8 + 1024 + 1);
        assert_eq!(
            levels(tracker),
            vec![(1, "name-9999".to_string(), "free".to_string())]
        );
    }
}
