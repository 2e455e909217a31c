//! The deterministic `songplay_id`.
//!
//! An event is identified by `(ts, userId, sessionId, itemInSession)`: a session's item counter at an
//! instant. The id is the first 60 bits of the MD5 of `"{ts}|{user_id}|{session_id}|{item}"`, read as
//! a positive BIGINT. It depends on the event alone — not on file order, run or machine — so reruns
//! and incremental loads give every event the same id, and exact duplicates collapse onto one row.
//! Both PostgreSQL and Redshift can compute it in SQL (`md5` + hex parsing), which the in-warehouse
//! ELT mode relies on.

use md5::{Digest, Md5};

/// The `songplay_id` of an event.
pub fn songplay_id(ts: i64, user_id: i32, session_id: i32, item_in_session: i32) -> i64 {
    let mut key = [0u8; 64];
    let len = {
        let mut w = &mut key[..];
        // 4 integers of at most 20 characters and 3 separators always fit in 64 bytes.
        let _ = std::io::Write::write_fmt(
            &mut w,
            format_args!("{ts}|{user_id}|{session_id}|{item_in_session}"),
        );
        64 - w.len()
    };
    let digest = Md5::digest(&key[..len]);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 4) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_sql_definition() {
        // python3: int(hashlib.md5(b"1542837407796|15|818|2").hexdigest()[:15], 16)
        assert_eq!(songplay_id(1542837407796, 15, 818, 2), 1139227754831891683);
    }

    #[test]
    fn is_positive_and_distinguishes_fields() {
        let a = songplay_id(1, 2, 3, 4);
        assert!(a > 0);
        assert_ne!(a, songplay_id(1, 2, 34, 0));
        assert_ne!(a, songplay_id(12, 3, 4, 0));
    }
}
