//! `s3://bucket/prefix` URLs: parsed, validated, and turned into keys and URLs (never with a `//`
//! after the bucket).

use std::fmt;
use std::str::FromStr;

/// Longest S3 key, in bytes.
const MAX_KEY_LEN: usize = 1024;

/// A bucket and a key prefix, parsed from `s3://bucket/prefix`.
///
/// The prefix has no leading or trailing `/` and no empty, `.` or `..` segment, so that
/// `prefix + "/" + name` never holds a `//` (Redshift reports `File not found` for such URLs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Location {
    /// Bucket name, validated against the S3 bucket naming rules.
    pub bucket: String,
    /// Key prefix without leading or trailing `/`; empty for the bucket root.
    pub prefix: String,
}

/// An `s3://` URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid S3 URL {url:?}: {reason}")]
pub struct S3UrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl S3Location {
    /// Parses `s3://bucket`, `s3://bucket/` or `s3://bucket/some/prefix/` (trailing `/` removed).
    pub fn parse(url: &str) -> std::result::Result<Self, S3UrlError> {
        let fail = |reason: String| S3UrlError {
            url: url.to_string(),
            reason,
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| fail("must start with s3://".into()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(fail("no bucket name after s3://".into()));
        }
        validate_bucket(bucket).map_err(|reason| fail(format!("bucket {bucket:?}: {reason}")))?;
        let prefix = prefix.trim_end_matches('/');
        validate_prefix(prefix).map_err(fail)?;
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The key of `relative` (a `/`-separated path) under the prefix.
    pub fn key(&self, relative: &str) -> String {
        let relative = relative.trim_start_matches('/');
        if self.prefix.is_empty() {
            relative.to_string()
        } else if relative.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}/{}", self.prefix, relative)
        }
    }

    /// The prefix as a "directory" key prefix: empty, or ending in exactly one `/`.
    pub fn dir_prefix(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// `s3://bucket/key` for a key in this location's bucket.
    pub fn url_of(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, key.trim_start_matches('/'))
    }

    /// The name of `key` relative to the prefix, if the key lies under it.
    pub fn relative<'k>(&self, key: &'k str) -> Option<&'k str> {
        if self.prefix.is_empty() {
            Some(key)
        } else {
            key.strip_prefix(&self.prefix)?.strip_prefix('/')
        }
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

impl FromStr for S3Location {
    type Err = S3UrlError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Checks the S3 bucket naming rules for general-purpose buckets.
fn validate_bucket(name: &str) -> std::result::Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err("must be 3 to 63 characters long".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "invalid character {c:?} (only lowercase letters, digits, '.' and '-')"
        ));
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err("must begin and end with a letter or digit".into());
    }
    if name.contains("..") {
        return Err("must not contain two adjacent periods".into());
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err("must not be formatted as an IP address".into());
    }
    if name.starts_with("xn--") || name.starts_with("sthree-") {
        return Err("must not start with a reserved prefix (xn--, sthree-)".into());
    }
    if name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        return Err("must not end with a reserved suffix (-s3alias, --ol-s3)".into());
    }
    Ok(())
}

/// Checks a key prefix (already stripped of trailing `/`).
fn validate_prefix(prefix: &str) -> std::result::Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    if prefix.len() > MAX_KEY_LEN / 2 {
        return Err(format!("prefix is longer than {} bytes", MAX_KEY_LEN / 2));
    }
    if prefix.chars().any(char::is_control) {
        return Err("prefix contains a control character".into());
    }
    for segment in prefix.split('/') {
        match segment {
            "" => {
                return Err("prefix contains an empty path segment (`//` or a leading `/`)".into())
            }
            "." | ".." => return Err(format!("prefix contains a {segment:?} path segment")),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        let l = S3Location::parse("s3://udacity-dend").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("udacity-dend", ""));
        let l = S3Location::parse("s3://my.bucket-1/a/b/").unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.prefix.as_str()),
            ("my.bucket-1", "a/b")
        );
        assert_eq!(l.to_string(), "s3://my.bucket-1/a/b");
        assert_eq!(
            l.key("songs/part-00000.parquet"),
            "a/b/songs/part-00000.parquet"
        );
        assert_eq!(
            l.url_of(&l.key("x")),
            "s3://my.bucket-1/a/b/x",
            "no `//` after the bucket"
        );
        assert_eq!(l.relative("a/b/log_data/x.json"), Some("log_data/x.json"));
        assert_eq!(l.relative("a/bc/x.json"), None);
        let root = S3Location::parse("s3://bkt/").unwrap();
        assert_eq!(root.key("x/y"), "x/y");
        assert_eq!(root.url_of(&root.key("x")), "s3://bkt/x");
        assert_eq!(root.dir_prefix(), "");
        assert_eq!("s3://bkt/p//".parse::<S3Location>().unwrap().prefix, "p");
    }

    #[test]
    fn rejects_bad_locations() {
        for (url, needle) in [
            ("bucket/prefix", "s3://"),
            ("https://bucket/prefix", "s3://"),
            ("s3://", "no bucket"),
            ("s3:///prefix", "no bucket"),
            ("s3://ab", "3 to 63"),
            ("s3://My_Bucket", "invalid character"),
            ("s3://-bucket", "begin and end"),
            ("s3://a..b", "adjacent periods"),
            ("s3://192.168.1.1", "IP address"),
            ("s3://xn--bucket", "reserved prefix"),
            ("s3://bucket//p", "empty path segment"),
            ("s3://bucket/a//b", "empty path segment"),
            ("s3://bucket/a/../b", "\"..\""),
        ] {
            let err = S3Location::parse(url).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(needle), "{url}: {text}");
            assert!(text.contains(url), "{url}: {text}");
        }
    }
}
