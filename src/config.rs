//! `dwh.cfg`: the INI file of the original project, with environment overrides.
//!
//! Sections and keys: `[CLUSTER] HOST DB_NAME DB_USER DB_PASSWORD DB_PORT`, `[IAM_ROLE] ARN`,
//! `[S3] LOG_DATA SONG_DATA LOG_JSONPATH STAGING REGION INPUT_REGION STAGING_REGION KEEP_RUNS`. Values
//! may be wrapped in `'…'` or `"…"`.
//! `SPARKIFY_<SECTION>_<KEY>` in the environment overrides the file (e.g.
//! `SPARKIFY_CLUSTER_DB_PASSWORD`), so no secret has to live in a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The default config file, used when present.
pub const DEFAULT_FILE: &str = "dwh.cfg";

/// Configuration errors, naming the file, section and key.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid INI.
    #[error("config {path} is not valid INI: {source}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: ini::ParseError,
    },
    /// A required key is missing.
    #[error("config {file}: [{section}] {key} is missing (or set SPARKIFY_{section}_{key})")]
    Missing {
        /// The file, or `(no config file)`.
        file: String,
        /// The section.
        section: String,
        /// The key.
        key: String,
    },
    /// A value is malformed.
    #[error("config {file}: [{section}] {key}: {reason}")]
    Invalid {
        /// The file, or `(no config file)`.
        file: String,
        /// The section.
        section: String,
        /// The key.
        key: String,
        /// What is wrong with it (never the value of a secret).
        reason: String,
    },
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A secret value: shown as `***` by `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The loaded configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    file: Option<PathBuf>,
    values: BTreeMap<(String, String), String>,
    /// Values given by command-line flags: they win over the environment and the file.
    overrides: BTreeMap<(String, String), String>,
}

impl Config {
    /// Loads `path`, or `dwh.cfg` when `path` is `None` and that file exists, or nothing.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
            None => return Ok(Self::default()),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        warn_if_readable_by_others(&path);
        Self::parse(&path, &text)
    }

    /// Parses INI `text` as if read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let ini = ini::Ini::load_from_str(text).map_err(|source| Error::Syntax {
            path: path.to_path_buf(),
            source,
        })?;
        let mut values = BTreeMap::new();
        for (section, props) in ini.iter() {
            let Some(section) = section else { continue };
            for (key, value) in props.iter() {
                values.insert(
                    (section.to_ascii_uppercase(), key.to_ascii_uppercase()),
                    unquote(value).to_string(),
                );
            }
        }
        Ok(Self {
            file: Some(path.to_path_buf()),
            values,
            overrides: BTreeMap::new(),
        })
    }

    /// The file this came from, for messages.
    pub fn file_name(&self) -> String {
        self.file
            .as_ref()
            .map_or_else(|| "(no config file)".into(), |p| p.display().to_string())
    }

    /// Sets `section`/`key` from a command-line flag, over the environment and the file.
    pub fn set_override(&mut self, section: &str, key: &str, value: &str) {
        self.overrides
            .insert((section.to_owned(), key.to_owned()), value.to_owned());
    }

    /// A value: a flag's override first, then the environment, then the file. Empty values count
    /// as missing.
    pub fn get(&self, section: &str, key: &str) -> Option<String> {
        if let Some(v) = self.overrides.get(&(section.to_owned(), key.to_owned())) {
            return Some(v.clone());
        }
        let env_name = format!("SPARKIFY_{section}_{key}");
        if let Ok(v) = std::env::var(&env_name) {
            if !v.is_empty() {
                return Some(v);
            }
        }
        self.values
            .get(&(section.to_string(), key.to_string()))
            .filter(|v| !v.is_empty())
            .cloned()
    }

    /// The region of the input bucket (`[S3] INPUT_REGION`, else `REGION`): the SDK region for
    /// reading it, and `COPY … REGION` of an ELT run on Redshift.
    pub fn input_region(&self) -> Option<String> {
        self.get("S3", "INPUT_REGION")
            .or_else(|| self.get("S3", "REGION"))
    }

    /// The region of the staging bucket (`[S3] STAGING_REGION`, else `REGION`): the SDK region
    /// for publishing runs there. Parquet COPY needs it to be the cluster's region.
    pub fn staging_region(&self) -> Option<String> {
        self.get("S3", "STAGING_REGION")
            .or_else(|| self.get("S3", "REGION"))
    }

    /// A required value.
    pub fn require(&self, section: &str, key: &str) -> Result<String> {
        self.get(section, key).ok_or_else(|| Error::Missing {
            file: self.file_name(),
            section: section.into(),
            key: key.into(),
        })
    }

    /// An error about the value of `section`/`key`.
    pub fn invalid(&self, section: &str, key: &str, reason: impl Into<String>) -> Error {
        Error::Invalid {
            file: self.file_name(),
            section: section.into(),
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Strips one pair of matching `'…'` or `"…"` quotes.
fn unquote(v: &str) -> &str {
    let v = v.trim();
    for q in ['\'', '"'] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o004 != 0 {
            tracing::warn!(
                "config {} is readable by other users; it may hold a password (chmod 600 it)",
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_and_missing_keys() {
        let cfg = Config::parse(
            Path::new("dwh.cfg"),
            "[CLUSTER]\nHOST='example.invalid'\nDB_PORT=5439\n[S3]\nLOG_DATA=\"s3://b/log_data\"\n",
        )
        .unwrap();
        assert_eq!(
            cfg.get("CLUSTER", "HOST").as_deref(),
            Some("example.invalid")
        );
        assert_eq!(
            cfg.get("S3", "LOG_DATA").as_deref(),
            Some("s3://b/log_data")
        );
        let err = cfg.require("IAM_ROLE", "ARN").unwrap_err().to_string();
        assert_eq!(
            err,
            "config dwh.cfg: [IAM_ROLE] ARN is missing (or set SPARKIFY_IAM_ROLE_ARN)"
        );
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
    }
}
