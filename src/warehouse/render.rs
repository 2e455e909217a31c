//! Plain-text tables for terminal output: a header, a rule, aligned columns; numbers right-aligned.

/// Whether a value reads as a number (and is right-aligned).
fn numeric(value: &str) -> bool {
    let v = value.strip_prefix('-').unwrap_or(value);
    !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && v.matches('.').count() <= 1
}

/// Renders `rows` under `headers`. A column whose values are all numbers (or empty) is
/// right-aligned; `None` prints as an empty cell.
pub fn table(headers: &[String], rows: &[Vec<Option<String>>]) -> String {
    let n = headers.len();
    let cell = |row: &Vec<Option<String>>, i: usize| -> String {
        row.get(i)
            .and_then(|v| v.as_deref())
            .map(|s| s.replace(['\n', '\r', '\t'], " "))
            .unwrap_or_default()
    };
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    let mut right = vec![true; n];
    for row in rows {
        for i in 0..n {
            let v = cell(row, i);
            widths[i] = widths[i].max(v.chars().count());
            if !v.is_empty() && !numeric(&v) {
                right[i] = false;
            }
        }
    }
    let line = |values: Vec<String>| -> String {
        let parts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let pad = widths[i].saturating_sub(v.chars().count());
                if right[i] {
                    format!("{}{v}", " ".repeat(pad))
                } else {
                    format!("{v}{}", " ".repeat(pad))
                }
            })
            .collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    let mut out = line(headers.to_vec());
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for row in rows {
        out.push_str(&line((0..n).map(|i| cell(row, i)).collect()));
    }
    out
}

/// Renders `rows` under `headers` as CSV (RFC 4180 quoting, one line per row): a field holding a
/// comma, quote or line break is quoted, quotes doubled; `None` is an empty field.
pub fn csv(headers: &[String], rows: &[Vec<Option<String>>]) -> String {
    fn field(out: &mut String, value: &str) {
        if value.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&value.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(value);
        }
    }
    let mut out = String::new();
    let mut line = |values: &mut dyn Iterator<Item = &str>| {
        for (i, v) in values.enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, v);
        }
        out.push('\n');
    };
    line(&mut headers.iter().map(String::as_str));
    for row in rows {
        line(&mut row.iter().map(|v| v.as_deref().unwrap_or("")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let h = vec!["title".to_string(), "plays".to_string()];
        let rows = vec![
            vec![Some("Hey, \"Jude\"".to_string()), Some("2".to_string())],
            vec![None, Some("1".to_string())],
        ];
        assert_eq!(csv(&h, &rows), "title,plays\n\"Hey, \"\"Jude\"\"\",2\n,1\n");
    }

    #[test]
    fn aligns_text_left_and_numbers_right() {
        let h = vec!["name".to_string(), "plays".to_string()];
        let rows = vec![
            vec![Some("Elena".to_string()), Some("1".to_string())],
            vec![None, Some("12.5".to_string())],
        ];
        assert_eq!(
            table(&h, &rows),
            "name   plays\n-----  -----\nElena      1\n        12.5\n"
        );
    }
}
