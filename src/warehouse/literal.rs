//! Validated values that are pasted into statements: identifiers ([`Ident`]) and the literals of
//! Redshift's `COPY` ([`S3Url`], [`S3Prefix`], [`IamRole`], [`Region`]), which takes no bind
//! parameters, and the instants of a range a load replaces ([`Timestamp`]).
//!
//! This is the one set of validators every path uses (Parquet load, ELT, DDL, checks), so a value
//! refused in one place is refused in all: `s3://bucket/a;b` can reach no statement.

use std::fmt;

use super::reserved::is_reserved;
use crate::s3::S3Location;

/// A name that was rejected as a SQL identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SQL identifier {name:?}: {reason}")]
pub struct InvalidIdentifier {
    /// The name as given.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A validated SQL identifier: `^[a-z_][a-z0-9_]{0,62}$` and not a Redshift reserved word.
///
/// Such a name needs no quoting in PostgreSQL or Redshift and fits their 63-byte limit, so it can
/// be pasted into a statement as is. Reserved words (`new`, `old`, `open`, `user`, …) are refused
/// with a clear message rather than quoted: unquoted they would not parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident(String);

impl Ident {
    /// Validates `name` as an identifier.
    pub fn new(name: &str) -> Result<Ident, InvalidIdentifier> {
        let fail = |reason| InvalidIdentifier {
            name: name.to_owned(),
            reason,
        };
        let bytes = name.as_bytes();
        let valid = match bytes.split_first() {
            Some((first, rest)) => {
                (first.is_ascii_lowercase() || *first == b'_')
                    && rest.len() <= 62
                    && rest
                        .iter()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
            }
            None => false,
        };
        if !valid {
            return Err(fail(
                "use 1 to 63 lowercase ASCII letters, digits or underscores, not starting with a \
                 digit",
            ));
        }
        if is_reserved(name) {
            return Err(fail(
                "it is a Redshift reserved word (docs.aws.amazon.com/redshift/latest/dg/\
                 r_pg_keywords.html); choose another name",
            ));
        }
        Ok(Ident(name.to_owned()))
    }

    /// The identifier text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Ident {
    type Err = InvalidIdentifier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ident::new(s)
    }
}

/// A value rejected as a literal of a Redshift `COPY`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidLiteral {
    /// Not an `s3://bucket/key` URL (or prefix) that can be pasted into a COPY.
    #[error("invalid S3 URL for COPY {url:?}: {reason}")]
    S3Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not an IAM role ARN.
    #[error(
        "invalid IAM role ARN {arn:?}: {reason} (expected \
         arn:aws[-partition]:iam::<12-digit account id>:role/<name>)"
    )]
    IamRole {
        /// The ARN as given.
        arn: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not an AWS region name.
    #[error("invalid AWS region {region:?}: expected a region name like us-west-2")]
    Region {
        /// The region as given.
        region: String,
    },
    /// An instant outside the years 0001 to 9999 both dialects can hold.
    #[error("invalid timestamp {millis} ms since 1970: {reason}")]
    Timestamp {
        /// The instant, in milliseconds since 1970-01-01 UTC.
        millis: i64,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Characters an S3 URL may hold after `s3://`: letters, digits and `/ - _ . = + , @ ~ ! ( )`.
/// No quote, backslash, `;`, whitespace or control character can reach a statement.
fn s3_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/-_.=+,@~!()".contains(c)
}

/// Checks `url` as `s3://bucket/key…` with a non-empty key of allowed characters and no empty,
/// `.` or `..` segments (`//` makes Redshift report `File not found`).
fn s3_location(url: &str) -> Result<S3Location, InvalidLiteral> {
    let fail = |reason: String| InvalidLiteral::S3Url {
        url: url.to_owned(),
        reason,
    };
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| fail("must start with s3://".into()))?;
    if let Some(c) = rest.chars().find(|c| !s3_url_char(*c)) {
        return Err(fail(format!(
            "the character {c:?} is not allowed (use letters, digits and / - _ . = + , @ ~ ! ( ))"
        )));
    }
    let location = S3Location::parse(url).map_err(|e| fail(e.reason))?;
    if location.prefix.is_empty() {
        return Err(fail(
            "must name a key under the bucket (s3://bucket/key)".into(),
        ));
    }
    Ok(location)
}

/// A validated `s3://bucket/key` URL of one object, safe to paste into a `COPY … FROM '…'`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Url(String);

impl S3Url {
    /// Validates `url` (see [`s3_location`]); it must not end with `/`.
    pub fn new(url: &str) -> Result<S3Url, InvalidLiteral> {
        s3_location(url)?;
        if url.ends_with('/') {
            return Err(InvalidLiteral::S3Url {
                url: url.to_owned(),
                reason: "must name an object (s3://bucket/key)".into(),
            });
        }
        Ok(S3Url(url.to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL as a quoted SQL literal.
    pub fn literal(&self) -> String {
        quote_literal(&self.0)
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated `s3://bucket/prefix` that COPY reads every object under, held as
/// `s3://bucket/prefix/` so that `prefix_old/` is not picked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Prefix(String);

impl S3Prefix {
    /// Validates `url` (a trailing `/` is optional).
    pub fn new(url: &str) -> Result<S3Prefix, InvalidLiteral> {
        let location = s3_location(url)?;
        Ok(S3Prefix(format!("{}/", location.url_of(&location.prefix))))
    }

    /// The prefix, ending in `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix as a quoted SQL literal.
    pub fn literal(&self) -> String {
        quote_literal(&self.0)
    }
}

impl fmt::Display for S3Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated IAM role ARN for `COPY … IAM_ROLE '…'`:
/// `^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$` (ASCII `\w`).
///
/// One role only: a chain of roles (`arn1,arn2`) does not match, as `:` is not allowed in the name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IamRole(String);

impl IamRole {
    /// Validates `arn`.
    pub fn new(arn: &str) -> Result<IamRole, InvalidLiteral> {
        let fail = |reason: &str| InvalidLiteral::IamRole {
            arn: arn.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = arn
            .strip_prefix("arn:aws")
            .ok_or_else(|| fail("must start with arn:aws"))?;
        let (partition, rest) = rest
            .split_once(':')
            .ok_or_else(|| fail("no service after the partition"))?;
        if !partition
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-')
            || !(partition.is_empty() || partition.starts_with('-'))
        {
            return Err(fail("the partition must be aws or aws-<lowercase letters>"));
        }
        let rest = rest
            .strip_prefix("iam::")
            .ok_or_else(|| fail("the service must be iam, with an empty region"))?;
        let (account, rest) = rest
            .split_once(':')
            .ok_or_else(|| fail("no resource after the account id"))?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail("the account id must be 12 digits"));
        }
        let name = rest
            .strip_prefix("role/")
            .ok_or_else(|| fail("the resource must be role/<name>"))?;
        if name.is_empty() || name.len() > 512 {
            return Err(fail("the role name must be 1 to 512 characters"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@/-".contains(c))
        {
            return Err(fail(
                "the role name may hold only letters, digits and _ + = , . @ / -",
            ));
        }
        Ok(IamRole(arn.to_owned()))
    }

    /// The ARN.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ARN as a quoted SQL literal.
    pub fn literal(&self) -> String {
        quote_literal(&self.0)
    }
}

impl fmt::Display for IamRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated AWS region name (`us-west-2`): lowercase letters, digits and `-`, starting with a
/// letter, at most 32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Region(String);

impl Region {
    /// Validates `region`.
    pub fn new(region: &str) -> Result<Region, InvalidLiteral> {
        let ok = region.len() <= 32
            && region.starts_with(|c: char| c.is_ascii_lowercase())
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Region(region.to_owned()))
        } else {
            Err(InvalidLiteral::Region {
                region: region.to_owned(),
            })
        }
    }

    /// The region name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The region as a quoted SQL literal.
    pub fn literal(&self) -> String {
        quote_literal(&self.0)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated instant (milliseconds since 1970-01-01 UTC, years 0001 to 9999), pasted as
/// `TIMESTAMP 'YYYY-MM-DD HH:MM:SS.mmm'`. The text is built from the number, never from what a
/// user typed, so it holds only digits and separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    /// First millisecond of 0001-01-01 (the proleptic Gregorian year 1).
    const MIN: i64 = -62_135_596_800_000;
    /// First millisecond of 10000-01-01.
    const END: i64 = 253_402_300_800_000;

    /// Validates `millis`.
    pub fn from_millis(millis: i64) -> Result<Timestamp, InvalidLiteral> {
        if (Self::MIN..Self::END).contains(&millis) {
            Ok(Timestamp(millis))
        } else {
            Err(InvalidLiteral::Timestamp {
                millis,
                reason: "the year must be 0001 to 9999",
            })
        }
    }

    /// Milliseconds since 1970-01-01 UTC.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// The instant as a SQL `TIMESTAMP` literal, which PostgreSQL and Redshift read alike.
    pub fn literal(self) -> String {
        const DAY: i64 = 86_400_000;
        let (days, rest) = (self.0.div_euclid(DAY), self.0.rem_euclid(DAY));
        let (y, m, d) = crate::transform::time::civil_from_days(days);
        format!(
            "TIMESTAMP '{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}'",
            rest / 3_600_000,
            rest / 60_000 % 60,
            rest / 1000 % 60,
            rest % 1000
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::window::format_ms(self.0))
    }
}

/// `'text'` with `'` doubled and `\` escaped (Redshift reads backslash escapes in literals).
///
/// The literal types admit neither character, so for them this only adds the quotes; it is the
/// second line of defence, not the first.
pub(crate) fn quote_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        for ok in ["a", "_", "sparkify", "dwh_2024", "time", &"a".repeat(63)] {
            assert!(Ident::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "Sparkify",
            "a-b",
            "a b",
            "a;drop table x",
            "\"q\"",
            "é",
            &"a".repeat(64),
            "new",
            "old",
            "open",
            "user",
        ] {
            assert!(Ident::new(bad).is_err(), "{bad}");
        }
        let e = Ident::new("new").unwrap_err().to_string();
        assert!(e.contains("reserved word"), "{e}");
    }

    #[test]
    fn copy_literals_are_validated() {
        for ok in [
            "s3://sparkify-staging/dwh/runs/1732560000-42/users.manifest",
            "s3://a.b-c/x=1/y+z,@~!(1).manifest",
        ] {
            assert_eq!(S3Url::new(ok).unwrap().literal(), format!("'{ok}'"));
        }
        for bad in [
            "s3://bucket/it's.manifest",
            "s3://bucket/a\\b",
            "s3://bucket/a b",
            "s3://bucket/a\nb",
            "s3://bucket/a;b",
            "s3://bucket//a",
            "s3://bucket/./a",
            "s3://bucket/",
            "s3://bucket",
            "s3://Bad_Bucket/a",
            "https://bucket/a",
            "s3://bucket/é",
        ] {
            assert!(S3Url::new(bad).is_err(), "{bad:?}");
            assert!(S3Prefix::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            S3Prefix::new("s3://udacity-dend/song_data")
                .unwrap()
                .as_str(),
            "s3://udacity-dend/song_data/"
        );
        assert_eq!(
            S3Prefix::new("s3://udacity-dend/song_data/")
                .unwrap()
                .as_str(),
            "s3://udacity-dend/song_data/"
        );
        for ok in [
            "arn:aws:iam::123456789012:role/sparkify",
            "arn:aws-cn:iam::123456789012:role/service-role/a_b+c=d,e.f@g-h",
            "arn:aws-us-gov:iam::000000000000:role/x",
        ] {
            assert_eq!(IamRole::new(ok).unwrap().as_str(), ok);
        }
        let long = format!("arn:aws:iam::123456789012:role/{}", "r".repeat(513));
        for bad in [
            "",
            "arn:aws:iam::123456789012:role/",
            "arn:awsX:iam::123456789012:role/x",
            "arn:aws:iam::12345678901:role/x",
            "arn:aws:iam::1234567890123:role/x",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:s3:::bucket",
            "arn:AWS:iam::123456789012:role/x",
            "arn:aws:iam::123456789012:role/x'y",
            "arn:aws:iam::123456789012:role/x y",
            "arn:aws:iam::123456789012:role/a,arn:aws:iam::123456789012:role/b",
            "arn:aws:iam::123456789012:role/é",
            &long,
        ] {
            assert!(IamRole::new(bad).is_err(), "{bad:?}");
        }
        assert!(Region::new("us-west-2").is_ok());
        for bad in ["", "us west", "US-WEST-2", "us-west-2'", "2us"] {
            assert!(Region::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(quote_literal("a'b\\c"), "'a''b\\\\c'");
    }

    #[test]
    fn timestamps_render_from_the_number() {
        let t = Timestamp::from_millis(1_541_376_000_000 + 3_723_500).unwrap();
        assert_eq!(t.literal(), "TIMESTAMP '2018-11-05 01:02:03.500'");
        assert_eq!(t.to_string(), "2018-11-05T01:02:03.500Z");
        let first = Timestamp::from_millis(Timestamp::MIN).unwrap();
        assert_eq!(first.literal(), "TIMESTAMP '0001-01-01 00:00:00.000'");
        let last = Timestamp::from_millis(Timestamp::END - 1).unwrap();
        assert_eq!(last.literal(), "TIMESTAMP '9999-12-31 23:59:59.999'");
        assert_eq!(
            Timestamp::from_millis(-1).unwrap().literal(),
            "TIMESTAMP '1969-12-31 23:59:59.999'"
        );
        for bad in [Timestamp::MIN - 1, Timestamp::END, i64::MIN, i64::MAX] {
            assert!(Timestamp::from_millis(bad).is_err(), "{bad}");
        }
    }
}
