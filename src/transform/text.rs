//! Fitting text into VARCHAR columns whose widths are in bytes.

use std::collections::BTreeMap;

use arrow::array::StringBuilder;

use crate::schema::Column;

/// Cuts `s` to at most `width` bytes at a UTF-8 character boundary; says whether it cut.
#[inline(always)]
pub fn fit(s: &str, width: usize) -> (&str, bool) {
    if s.len() <= width {
        return (s, false);
    }
    let mut end = width;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

/// How many values were cut, per `table.column`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Truncations(pub BTreeMap<String, u64>);

impl Truncations {
    /// Adds `n` cuts for `column` of `table`.
    pub fn add(&mut self, table: &str, column: &str, n: u64) {
        if n > 0 {
            *self.0.entry(format!("{table}.{column}")).or_default() += n;
        }
    }

    /// Adds another tally into this one.
    pub fn merge(&mut self, other: &Truncations) {
        for (k, v) in &other.0 {
            *self.0.entry(k.clone()).or_default() += v;
        }
    }

    /// Total values cut.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// A string column builder that fits every value to its column's byte width and counts the cuts.
#[derive(Debug)]
pub struct TextColumn {
    builder: StringBuilder,
    width: usize,
    /// Values cut so far.
    pub cut: u64,
}

impl TextColumn {
    /// A builder for `column` (which must be a VARCHAR), pre-sized for `rows`.
    pub fn new(column: &Column, rows: usize) -> Self {
        Self {
            builder: StringBuilder::with_capacity(rows, rows * 16),
            width: column.ty.text_width().unwrap_or(usize::MAX),
            cut: 0,
        }
    }

    /// Appends a value or NULL.
    #[inline(always)]
    pub fn append(&mut self, value: Option<&str>) {
        match value {
            Some(s) => {
                let (s, cut) = fit(s, self.width);
                self.cut += u64::from(cut);
                self.builder.append_value(s);
            }
            None => self.builder.append_null(),
        }
    }

    /// The finished array.
    pub fn finish(&mut self) -> arrow::array::StringArray {
        self.builder.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_character_boundaries() {
        assert_eq!(fit("abc", 3), ("abc", false));
        assert_eq!(fit("café", 4), ("caf", true)); // é is 2 bytes: never split
        assert_eq!(fit("café", 5), ("café", false));
        assert_eq!(fit("😀x", 3), ("", true));
    }
}
