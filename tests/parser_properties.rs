//! Property tests of the parsers: arbitrary bytes and mutated real lines never panic, every
//! non-blank line is accounted for as accepted or rejected, and a rejected line keeps its text.

use proptest::prelude::*;
use sparkify::parse::event::parse_log;
use sparkify::parse::song::parse_song_file;
use sparkify::parse::JsonParser;

fn real_lines() -> Vec<Vec<u8>> {
    let day = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/log_data/2018/11/2018-11-13-events.json"
    ))
    .unwrap();
    day.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

/// Non-blank lines as the parser splits them (BOM, CR and whitespace-only lines aside).
fn non_blank_lines(bytes: &[u8]) -> u64 {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count() as u64
}

fn check_accounting(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let expected = non_blank_lines(&bytes);
    let original = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&bytes)
        .to_vec();
    let mut parser = JsonParser::default();
    let mut rejects = Vec::new();
    let mut accepted = 0u64;
    let counts = parse_log(&mut parser, "p.json", &bytes, &mut rejects, |_| {
        accepted += 1;
        Ok(())
    });
    prop_assert_eq!(counts.lines, expected);
    prop_assert_eq!(accepted + counts.rejected, counts.lines);
    prop_assert_eq!(rejects.len() as u64, counts.rejected);
    // A reject shows its line as it was read, whatever parsing did with it.
    let lines: Vec<&[u8]> = original.split(|&b| b == b'\n').collect();
    for reject in &rejects {
        let line = lines[reject.line as usize - 1];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        prop_assert_eq!(&reject.raw, &String::from_utf8_lossy(line));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_accounting(bytes.clone())?;
        let mut parser = JsonParser::default();
        let mut rejects = Vec::new();
        parse_song_file(&mut parser, "s.json", &bytes, &mut rejects, |_| {});
    }

    #[test]
    fn mutated_real_lines_are_accounted_for(
        picks in proptest::collection::vec((0usize..400, 0usize..400, any::<u8>(), 0u8..4), 1..20)
    ) {
        let lines = real_lines();
        let mut out = Vec::new();
        for (line, at, byte, how) in picks {
            let mut l = lines[line % lines.len()].clone();
            let at = at % (l.len() + 1);
            match how {
                0 => l.insert(at, byte),                   // insert a byte
                1 if at < l.len() => l[at] = byte,         // overwrite a byte
                2 => l.truncate(at),                       // cut the line
                _ => l.extend_from_slice(b"\r"),           // CRLF ending
            }
            out.extend_from_slice(&l);
            out.push(b'\n');
        }
        check_accounting(out)?;
    }
}
