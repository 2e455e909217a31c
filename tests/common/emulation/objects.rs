//! Objects of the in-process S3 server, read straight from its folder (`<root>/<bucket>/<key>`),
//! as Redshift's COPY reads them from S3.

use std::path::{Path, PathBuf};

use super::statement::s3_url;
use super::{redshift_error, Failure};

/// The file holding `s3://bucket/key` under `root`, or `None` when the key cannot name an object
/// (an empty path segment: S3 keys may hold `//`, but Redshift's COPY reports such URLs as not
/// found, as measured by serialize-db; see /work/shared/REDSHIFT.md).
fn path_of(root: &Path, url: &str) -> Result<Option<PathBuf>, Failure> {
    let (bucket, key) = s3_url(url)?;
    if key.is_empty()
        || key
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Ok(None);
    }
    Ok(Some(root.join(bucket).join(key)))
}

/// The bytes of the object at `url`; `None` when there is no such object.
pub fn read(root: &Path, url: &str) -> Result<Option<Vec<u8>>, Failure> {
    let Some(path) = path_of(root, url)? else {
        return Ok(None);
    };
    // A folder is a key prefix, not an object.
    if path.is_dir() {
        return Ok(None);
    }
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(redshift_error("XX000", format!("S3 read of {url}: {e}"))),
    }
}

/// Every object whose key starts with the key of `url` (COPY's key-prefix match), sorted by key:
/// `(url, bytes)`.
pub fn under_prefix(root: &Path, url: &str) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    let (bucket, prefix) = s3_url(url)?;
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if let Ok(rel) = path.strip_prefix(base) {
                let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
                out.push(parts.join("/"));
            }
        }
    }
    let base = root.join(bucket);
    let mut keys = Vec::new();
    walk(&base, &base, &mut keys);
    keys.retain(|k| k.starts_with(prefix));
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let bytes = std::fs::read(base.join(&k))
                .map_err(|e| redshift_error("XX000", format!("S3 read of {k}: {e}")))?;
            Ok((format!("s3://{bucket}/{k}"), bytes))
        })
        .collect()
}
