//! App event logs (`log_data/**.json`): NDJSON, one event per line.

use std::borrow::Cow;

use super::value::{float, int, int32, object_fields, text, wrong_type};
use super::{JsonParser, LineCursor, Piece, Reject};

/// Latest accepted event time: the last millisecond of year 9999. Earlier than 1970 is rejected too.
pub const MAX_TS_MS: i64 = 253_402_300_799_999;

/// One app event, borrowing its text from the parser's buffer.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Event<'a> {
    /// Epoch milliseconds (required).
    pub ts: i64,
    /// The app page, e.g. `NextSong` (required).
    pub page: Cow<'a, str>,
    /// The user, `None` when `userId` is `""` or missing (logged-out events).
    pub user_id: Option<i32>,
    /// Session id (required).
    pub session_id: i32,
    /// Position of the event in its session (required).
    pub item_in_session: i32,
    /// `free` or `paid`.
    pub level: Option<Cow<'a, str>>,
    /// User's first name.
    pub first_name: Option<Cow<'a, str>>,
    /// User's last name.
    pub last_name: Option<Cow<'a, str>>,
    /// User's gender.
    pub gender: Option<Cow<'a, str>>,
    /// User's location.
    pub location: Option<Cow<'a, str>>,
    /// User's browser.
    pub user_agent: Option<Cow<'a, str>>,
    /// Song title played (NextSong events).
    pub song: Option<Cow<'a, str>>,
    /// Artist name played (NextSong events).
    pub artist: Option<Cow<'a, str>>,
    /// Song length in seconds (NextSong events).
    pub length: Option<f64>,
}

impl Event<'_> {
    /// Whether this event is a song play.
    pub fn is_song_play(&self) -> bool {
        self.page == "NextSong"
    }
}

/// Counts of what one log file (or piece of one) held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LineCounts {
    /// Non-blank lines.
    pub lines: u64,
    /// Lines rejected (malformed, wrong types, refused by the consumer).
    pub rejected: u64,
    /// All lines, blank ones included: what the next piece of the file must add to its line numbers.
    pub physical: u64,
}

/// Parses every line of a log file and hands each event to `on_event`, which may refuse it with a
/// reason (e.g. a song play without a user). Failures become [`Reject`]s in `rejects`.
pub fn parse_log(
    parser: &mut JsonParser,
    file: &str,
    bytes: &[u8],
    rejects: &mut Vec<Reject>,
    on_event: impl FnMut(&Event<'_>) -> Result<(), String>,
) -> LineCounts {
    let piece = Piece {
        bytes,
        starts_file: true,
    };
    parse_log_piece(parser, file, piece, rejects, on_event)
}

/// [`parse_log`] for a piece of a file (see [`super::split_lines`]). Rejects are
/// numbered from the piece's first line; the caller adds the lines of the pieces before it.
pub fn parse_log_piece(
    parser: &mut JsonParser,
    file: &str,
    piece: Piece<'_>,
    rejects: &mut Vec<Reject>,
    mut on_event: impl FnMut(&Event<'_>) -> Result<(), String>,
) -> LineCounts {
    let bytes = piece.bytes;
    let mut cursor = LineCursor::new(bytes, piece.starts_file);
    let mut counts = LineCounts::default();
    while let Some((line, start, len)) = cursor.next(bytes) {
        counts.lines += 1;
        let record = &bytes[start..start + len];
        let outcome = parser.parse(record, |tape| {
            let event = decode_event(tape)?;
            on_event(&event)
        });
        let reject = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(reason)) => Reject::new(file, line, reason, record),
            Err(failure) => failure.reject(file, line, record),
        };
        counts.rejected += 1;
        rejects.push(reject);
    }
    counts.physical = cursor.number;
    counts
}

/// Reads the fields sparkify uses from an event's tape; unknown fields are skipped.
pub fn decode_event<'a>(tape: &[simd_json::Node<'a>]) -> Result<Event<'a>, String> {
    let fields = object_fields(tape).ok_or_else(|| "line is not a JSON object".to_string())?;
    let mut ev = Event::default();
    let (mut has_ts, mut has_page, mut has_session, mut has_item) = (false, false, false, false);
    for (key, value) in fields {
        let bad = |expected| wrong_type(key, expected);
        match key {
            "ts" => {
                ev.ts = int(value).map_err(bad)?.ok_or_else(|| bad("an integer"))?;
                has_ts = true;
            }
            "page" => {
                ev.page = text(value).map_err(bad)?.ok_or_else(|| bad("text"))?;
                has_page = true;
            }
            "userId" => ev.user_id = user_id(value).map_err(bad)?,
            "sessionId" => {
                ev.session_id = int32(value)
                    .map_err(bad)?
                    .ok_or_else(|| bad("an integer"))?;
                has_session = true;
            }
            "itemInSession" => {
                ev.item_in_session = int32(value)
                    .map_err(bad)?
                    .ok_or_else(|| bad("an integer"))?;
                has_item = true;
            }
            "level" => ev.level = text(value).map_err(bad)?,
            "firstName" => ev.first_name = text(value).map_err(bad)?,
            "lastName" => ev.last_name = text(value).map_err(bad)?,
            "gender" => ev.gender = text(value).map_err(bad)?,
            "location" => ev.location = text(value).map_err(bad)?,
            "userAgent" => ev.user_agent = text(value).map_err(bad)?,
            "song" => ev.song = text(value).map_err(bad)?,
            "artist" => ev.artist = text(value).map_err(bad)?,
            "length" => ev.length = float(value).map_err(bad)?,
            _ => {}
        }
    }
    for (present, name) in [
        (has_ts, "ts"),
        (has_page, "page"),
        (has_session, "sessionId"),
        (has_item, "itemInSession"),
    ] {
        if !present {
            return Err(format!("required field `{name}` is missing"));
        }
    }
    if !(0..=MAX_TS_MS).contains(&ev.ts) {
        return Err(format!("field `ts` = {} is outside 1970..=9999", ev.ts));
    }
    Ok(ev)
}

/// `userId` is a string in the real logs (`"39"`, or `""` when logged out); a number is accepted too.
fn user_id(node: simd_json::Node<'_>) -> Result<Option<i32>, &'static str> {
    const EXPECTED: &str = "a 32-bit user id";
    match text(node).map_err(|_| EXPECTED)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => s.trim().parse::<i32>().map(Some).map_err(|_| EXPECTED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (Vec<Event<'static>>, Vec<Reject>, LineCounts) {
        let mut parser = JsonParser::default();
        let mut rejects = Vec::new();
        let mut events = Vec::new();
        let counts = parse_log(&mut parser, "f.json", input, &mut rejects, |e| {
            events.push(owned(e));
            Ok(())
        });
        (events, rejects, counts)
    }

    fn owned(e: &Event<'_>) -> Event<'static> {
        let o = |v: &Option<Cow<'_, str>>| v.as_ref().map(|s| Cow::Owned(s.to_string()));
        Event {
            ts: e.ts,
            page: Cow::Owned(e.page.to_string()),
            user_id: e.user_id,
            session_id: e.session_id,
            item_in_session: e.item_in_session,
            level: o(&e.level),
            first_name: o(&e.first_name),
            last_name: o(&e.last_name),
            gender: o(&e.gender),
            location: o(&e.location),
            user_agent: o(&e.user_agent),
            song: o(&e.song),
            artist: o(&e.artist),
            length: e.length,
        }
    }

    const REAL: &str = r#"{"artist":"Des'ree","auth":"Logged In","firstName":"Kaylee","gender":"F","itemInSession":1,"lastName":"Summers","length":246.30812,"level":"free","location":"Phoenix-Mesa-Scottsdale, AZ","method":"PUT","page":"NextSong","registration":1540344794796.0,"sessionId":139,"song":"You Gotta Be","status":200,"ts":1541106106796,"userAgent":"\"Mozilla\/5.0 (Windows NT 6.1; WOW64)\"","userId":"8"}"#;

    #[test]
    fn reads_a_real_event_with_escapes() {
        let (events, rejects, _) = parse_all(REAL.as_bytes());
        assert!(rejects.is_empty(), "{rejects:?}");
        let e = &events[0];
        assert_eq!(e.user_id, Some(8));
        assert_eq!(
            e.user_agent.as_deref(),
            Some("\"Mozilla/5.0 (Windows NT 6.1; WOW64)\"")
        );
        assert_eq!(e.length, Some(246.30812));
        assert_eq!(e.ts, 1541106106796);
        assert!(e.is_song_play());
    }

    #[test]
    fn rejects_keep_the_original_text() {
        let line = r#"{"ts":"1541106106796","page":"NextSong","sessionId":1,"itemInSession":0,"userAgent":"a\/b"}"#;
        let (_, rejects, counts) = parse_all(line.as_bytes());
        assert_eq!(
            counts,
            LineCounts {
                lines: 1,
                rejected: 1,
                physical: 1
            }
        );
        assert_eq!(rejects[0].raw, line);
        assert_eq!(rejects[0].reason, "field `ts` is not an integer");
    }

    #[test]
    fn empty_user_id_is_none_and_numbers_are_accepted() {
        let input = b"{\"ts\":1,\"page\":\"Home\",\"sessionId\":1,\"itemInSession\":0,\"userId\":\"\"}\n{\"ts\":1,\"page\":\"Home\",\"sessionId\":1,\"itemInSession\":1,\"userId\":7}";
        let (events, rejects, _) = parse_all(input);
        assert!(rejects.is_empty());
        assert_eq!(events[0].user_id, None);
        assert_eq!(events[1].user_id, Some(7));
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        for (line, reason) in [
            (
                r#"{"ts":1,"page":"x","sessionId":1,"itemInSession":0,"userId":"99999999999"}"#,
                "field `userId` is not a 32-bit user id",
            ),
            (
                r#"{"ts":-5,"page":"x","sessionId":1,"itemInSession":0}"#,
                "field `ts` = -5 is outside 1970..=9999",
            ),
            (
                r#"{"ts":1,"page":"x","itemInSession":0}"#,
                "required field `sessionId` is missing",
            ),
            (r#"[1,2]"#, "line is not a JSON object"),
        ] {
            let (_, rejects, _) = parse_all(line.as_bytes());
            assert_eq!(rejects.len(), 1, "{line}");
            assert_eq!(rejects[0].reason, reason);
        }
    }
}
