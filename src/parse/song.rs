//! Song catalogue files (`song_data/**.json`): one or more JSON objects per file, compact or
//! pretty-printed, back to back.

use std::borrow::Cow;

use super::value::{float, int32, object_fields, text, wrong_type};
use super::{JsonParser, Reject};

/// One song record, borrowing its text from the parser's buffer.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Song<'a> {
    /// Song id (required).
    pub song_id: Cow<'a, str>,
    /// Title.
    pub title: Option<Cow<'a, str>>,
    /// Artist id (required).
    pub artist_id: Cow<'a, str>,
    /// Artist name; a JSON number becomes its text.
    pub artist_name: Option<Cow<'a, str>>,
    /// Artist location; a JSON number becomes its text.
    pub artist_location: Option<Cow<'a, str>>,
    /// Artist latitude.
    pub artist_latitude: Option<f64>,
    /// Artist longitude.
    pub artist_longitude: Option<f64>,
    /// Duration in seconds.
    pub duration: Option<f64>,
    /// Release year (0 when unknown, as in the source data).
    pub year: Option<i32>,
}

/// Parses every object of a song file, handing each song to `on_song`. Returns the number of
/// objects seen (accepted + rejected).
pub fn parse_song_file(
    parser: &mut JsonParser,
    file: &str,
    bytes: &[u8],
    rejects: &mut Vec<Reject>,
    mut on_song: impl FnMut(&Song<'_>),
) -> u64 {
    let spans = object_spans(bytes);
    let mut seen = 0;
    for span in spans {
        seen += 1;
        let (line, start, len) = match span {
            Ok(span) => span,
            Err((line, start, reason)) => {
                rejects.push(Reject::new(file, line, reason.into(), &bytes[start..]));
                continue;
            }
        };
        let record = &bytes[start..start + len];
        let outcome = parser.parse(record, |tape| decode_song(tape).map(|song| on_song(&song)));
        let reject = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(reason)) => Reject::new(file, line, reason, record),
            Err(failure) => failure.reject(file, line, record),
        };
        rejects.push(reject);
    }
    seen
}

type Span = Result<(u64, usize, usize), (u64, usize, &'static str)>;

/// Finds the top-level objects of `data` as `(line, start, len)`, or where trailing garbage or a
/// truncated object starts.
fn object_spans(data: &[u8]) -> Vec<Span> {
    let mut out = Vec::new();
    let mut pos = if data.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let mut line = 1u64;
    loop {
        while pos < data.len() && data[pos].is_ascii_whitespace() {
            line += u64::from(data[pos] == b'\n');
            pos += 1;
        }
        if pos >= data.len() {
            return out;
        }
        if data[pos] != b'{' {
            out.push(Err((line, pos, "text outside a JSON object")));
            return out;
        }
        match object_end(data, pos) {
            Some(end) => {
                out.push(Ok((line, pos, end - pos)));
                line += memchr::memchr_iter(b'\n', &data[pos..end]).count() as u64;
                pos = end;
            }
            None => {
                out.push(Err((line, pos, "truncated JSON object")));
                return out;
            }
        }
    }
}

/// The index just past the `}` closing the object that starts at `start`.
fn object_end(data: &[u8], start: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in data.iter().enumerate().skip(start) {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Reads a song object's fields from its tape; unknown fields are skipped.
pub fn decode_song<'a>(tape: &[simd_json::Node<'a>]) -> Result<Song<'a>, String> {
    let fields = object_fields(tape).ok_or_else(|| "not a JSON object".to_string())?;
    let mut song = Song::default();
    let (mut has_song_id, mut has_artist_id) = (false, false);
    for (key, value) in fields {
        let bad = |expected| wrong_type(key, expected);
        match key {
            "song_id" => {
                song.song_id = text(value).map_err(bad)?.ok_or_else(|| bad("text"))?;
                has_song_id = !song.song_id.is_empty();
            }
            "artist_id" => {
                song.artist_id = text(value).map_err(bad)?.ok_or_else(|| bad("text"))?;
                has_artist_id = !song.artist_id.is_empty();
            }
            "title" => song.title = text(value).map_err(bad)?,
            "artist_name" => song.artist_name = text(value).map_err(bad)?,
            "artist_location" => song.artist_location = text(value).map_err(bad)?,
            "artist_latitude" => song.artist_latitude = float(value).map_err(bad)?,
            "artist_longitude" => song.artist_longitude = float(value).map_err(bad)?,
            "duration" => song.duration = float(value).map_err(bad)?,
            "year" => song.year = int32(value).map_err(bad)?,
            _ => {}
        }
    }
    if !has_song_id {
        return Err("required field `song_id` is missing or empty".into());
    }
    if !has_artist_id {
        return Err("required field `artist_id` is missing or empty".into());
    }
    Ok(song)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> (Vec<(String, Option<String>)>, Vec<Reject>) {
        let mut parser = JsonParser::default();
        let mut rejects = Vec::new();
        let mut songs = Vec::new();
        parse_song_file(&mut parser, "s.json", input.as_bytes(), &mut rejects, |s| {
            songs.push((
                s.song_id.to_string(),
                s.artist_name.as_ref().map(|n| n.to_string()),
            ));
        });
        (songs, rejects)
    }

    #[test]
    fn concatenated_and_pretty_objects() {
        let input = "{\"song_id\": \"S1\", \"artist_id\": \"A1\", \"artist_name\": 112}\n{\n    \"song_id\": \"S2\",\n    \"artist_id\": \"A2\", \"title\": \"a } b\"\n}";
        let (songs, rejects) = parse(input);
        assert!(rejects.is_empty(), "{rejects:?}");
        assert_eq!(
            songs,
            vec![("S1".into(), Some("112".into())), ("S2".into(), None)]
        );
    }

    #[test]
    fn truncated_object_is_rejected_with_its_line() {
        let (songs, rejects) = parse("{\"song_id\":\"S1\",\"artist_id\":\"A\"}\n\n{\"song_id\":");
        assert_eq!(songs.len(), 1);
        assert_eq!(rejects[0].line, 3);
        assert_eq!(rejects[0].reason, "truncated JSON object");
    }
}
