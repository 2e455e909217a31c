//! Flags + config + environment → one validated plan, before any work starts.
//!
//! `--dry-run` prints the plan and stops, so what a run would read, write and execute can be checked
//! without touching anything.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::sink::parquet::WriterOptions;
use crate::{Error, Result};

/// A place data is read from or written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local folder.
    Local(PathBuf),
    /// An S3 prefix, `s3://bucket/prefix`.
    S3(String),
}

impl Location {
    /// Parses a flag value: `s3://…` or a local path.
    pub fn parse(value: &str) -> Self {
        if value.starts_with("s3://") {
            Location::S3(value.to_string())
        } else {
            Location::Local(PathBuf::from(value))
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::S3(url) => f.write_str(url),
        }
    }
}

/// The bundled sample: `./data` when run from the repository, else the copy beside the sources.
pub fn default_input() -> PathBuf {
    let here = Path::new("data");
    if here.join("log_data").is_dir() || here.join("song_data").is_dir() {
        here.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
    }
}

/// `path` made absolute with `..` and symbolic links resolved, as far as it exists: its nearest
/// existing ancestor is resolved by the file system and the rest (which does not exist yet, so
/// holds no link) is appended with `.` and `..` applied.
pub fn resolve_path(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    let mut resolved = loop {
        match existing.canonicalize() {
            Ok(resolved) => break resolved,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            // A missing path ending in `..` (`absolute` keeps them): resolve what it is the
            // parent of, then step up.
            (Some(parent), None) => {
                rest.push("..".into());
                existing = parent;
            }
            (None, _) => break existing.to_path_buf(),
        }
    };
    for part in rest.into_iter().rev() {
        if part == ".." {
            resolved.pop();
        } else {
            resolved.push(part);
        }
    }
    Ok(resolved)
}

/// Parses a byte count: digits, optionally followed by `K`, `M`, `G` (or `KiB`, `MiB`, `GiB`:
/// powers of 1024).
pub fn parse_byte_size(value: &str) -> std::result::Result<u64, String> {
    let value = value.trim();
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = value.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{value:?} is not a byte count (e.g. 67108864, 64MiB, 1G)"))?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        other => {
            return Err(format!(
                "unknown unit {other:?} (use K, M or G: KiB, MiB, GiB)"
            ))
        }
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{value:?} is too large"))
}

/// A validated JSON → Parquet run.
#[derive(Debug, Clone)]
pub struct TransformPlan {
    /// Folder (or S3 prefix) holding `song_data/` and `log_data/`.
    pub input: Location,
    /// Where the Parquet star schema is published.
    pub output: Location,
    /// Rejected records tolerated before the run fails.
    pub max_bad_records: u64,
    /// Parquet layout.
    pub writer: WriterOptions,
    /// How S3 is reached.
    pub s3: S3Options,
    /// What one input file may cost.
    pub limits: crate::source::Limits,
    /// Whether to wait for another run on the same output to end, rather than fail.
    pub wait_for_lock: bool,
    /// Events kept (`--since`/`--until`).
    pub range: crate::window::TimeRange,
    /// Process and publish one window at a time (`--window`).
    pub window: Option<crate::window::WindowSize>,
    /// Skip the windows an earlier run published (`--resume`).
    pub resume: bool,
}

/// S3 access settings of a plan (credentials and endpoint come from the standard AWS chain).
#[derive(Debug, Clone)]
pub struct S3Options {
    /// Region, from `[S3] REGION`; `None` uses the AWS chain.
    pub region: Option<String>,
    /// S3 requests in flight at once.
    pub concurrency: usize,
    /// The runs kept under an S3 `--output` after a publish (`[S3] KEEP_RUNS`, `--keep-runs`).
    pub keep_runs: crate::sink::s3::KeepRuns,
}

impl TransformPlan {
    /// Checks what can be checked without reading data.
    pub fn validate(self) -> Result<Self> {
        if self.writer.rows_per_file == 0 {
            return Err(Error::Usage("--rows-per-file must be at least 1".into()));
        }
        if let Location::Local(output) = &self.output {
            check_output(output, &self.input)?;
        }
        for loc in [&self.input, &self.output] {
            if let Location::S3(url) = loc {
                parse_s3(url)?;
            }
        }
        let max_concurrency = crate::source::s3::MAX_CONCURRENCY;
        if !(1..=max_concurrency).contains(&self.s3.concurrency) {
            return Err(Error::Usage(format!(
                "--s3-concurrency must be between 1 and {max_concurrency}"
            )));
        }
        if self.limits.max_file_bytes == 0 {
            return Err(Error::Usage("--max-file-bytes must be at least 1".into()));
        }
        if let (Some(since), Some(until)) = (self.range.since, self.range.until) {
            if since >= until {
                return Err(Error::Usage(format!(
                    "--since must be before --until (the range {} is empty)",
                    self.range
                )));
            }
        }
        if self.resume && self.window.is_none() {
            return Err(Error::Usage(
                "--resume continues a windowed run: it needs --window".into(),
            ));
        }
        if self.window.is_some() && matches!(self.output, Location::S3(_)) {
            return Err(Error::Usage(
                "--window publishes each window into a local --output folder; an S3 output \
                 is published once per run (run without --window, or write locally and upload)"
                    .into(),
            ));
        }
        Ok(self)
    }

    /// The source of the plan's input, with its limits and S3 concurrency: the one way every
    /// command that reads input (a transform, an ELT staging copy) opens it.
    pub fn open_source(&self) -> Result<Box<dyn crate::source::Source>> {
        use crate::source::{local::LocalSource, s3::S3Source};
        Ok(match &self.input {
            Location::Local(dir) => Box::new(LocalSource::open(dir)?.with_limits(self.limits)),
            Location::S3(url) => Box::new(
                S3Source::connect(&self.s3_settings(), parse_s3(url)?)?
                    .with_concurrency(self.s3.concurrency)
                    .with_limits(self.limits),
            ),
        })
    }

    /// How the plan reaches S3: its region, the rest from the standard AWS chain.
    pub fn s3_settings(&self) -> crate::s3::S3Settings {
        crate::s3::S3Settings {
            region: self.s3.region.clone(),
            ..crate::s3::S3Settings::default()
        }
    }
}

/// Parses an `s3://` flag value; a bad one is a usage error.
pub fn parse_s3(url: &str) -> Result<crate::s3::S3Location> {
    crate::s3::S3Location::parse(url).map_err(|e| Error::Usage(e.to_string()))
}

/// Refuses a local `output` that is, contains or lies inside a local `input` (paths resolved), or
/// that is something sparkify must not replace (see [`crate::sink::marker`]).
fn check_output(output: &Path, input: &Location) -> Result<()> {
    let resolved = resolve_path(output).map_err(|source| crate::sink::Error::Io {
        path: output.to_path_buf(),
        source,
    })?;
    if resolved.parent().is_none() {
        return Err(Error::Usage(format!(
            "--output {} is the root of the file system; name a folder",
            output.display()
        )));
    }
    if let Location::Local(input) = input {
        if let Ok(input) = resolve_path(input) {
            let (o, i) = (output.display(), input.display());
            if resolved == input {
                return Err(Error::Usage(format!(
                    "--output {o} would replace the input folder {i}"
                )));
            }
            if input.starts_with(&resolved) {
                return Err(Error::Usage(format!(
                    "--output {o} contains the input folder {i}: replacing it would delete the input"
                )));
            }
            if resolved.starts_with(&input) {
                return Err(Error::Usage(format!(
                    "--output {o} lies inside the input folder {i}; choose an output outside it"
                )));
            }
        }
    }
    crate::sink::marker::inspect(&resolved)?;
    Ok(())
}

impl fmt::Display for TransformPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "read:      {}/song_data/**.json[.gz]", self.input)?;
        writeln!(f, "           {}/log_data/**.json[.gz]", self.input)?;
        writeln!(
            f,
            "write:     {}/{{songplays,users,songs,artists,time}}/part-NNNNN.parquet ({:?}, up to {} rows per file), {}/_rejects/",
            self.output, self.writer.codec, self.writer.rows_per_file, self.output
        )?;
        match &self.output {
            Location::Local(dir) => writeln!(
                f,
                "publish:   atomically replace {} when the run succeeds; one run at a time on it ({})",
                dir.display(),
                if self.wait_for_lock {
                    "wait for another to end"
                } else {
                    "fail at once while another runs"
                }
            )?,
            Location::S3(url) => writeln!(
                f,
                "publish:   upload to {url}/runs/<run-id>/, write COPY manifests, then point {url}/_latest at the run"
            )?,
        }
        if matches!(self.input, Location::S3(_)) || matches!(self.output, Location::S3(_)) {
            writeln!(
                f,
                "s3:        region {}, {} requests in flight; endpoint and credentials from the AWS chain",
                self.s3.region.as_deref().unwrap_or("from the AWS chain"),
                self.s3.concurrency
            )?;
        }
        if !self.range.is_all() {
            writeln!(
                f,
                "events:    ts in {} (UTC); log files named for days outside it are not read",
                self.range
            )?;
        }
        if let Some(size) = self.window {
            writeln!(
                f,
                "windows:   one {size} at a time, each published when done{}; state in {}/{}",
                if self.resume {
                    ", skipping those an earlier run published"
                } else {
                    ""
                },
                self.output,
                crate::window::STATE_FILE
            )?;
        }
        writeln!(
            f,
            "limits:    files read whole (song files, S3 objects, .gz once decompressed) up to {} bytes",
            self.limits.max_file_bytes
        )?;
        write!(
            f,
            "bad input: fail past {} rejected records",
            self.max_bad_records
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_through_links_and_missing_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("real")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).unwrap();
        #[cfg(unix)]
        assert_eq!(
            resolve_path(&root.join("link/new/../x")).unwrap(),
            root.join("real/x")
        );
        assert_eq!(
            resolve_path(&root.join("missing/deeper/../../real/./y")).unwrap(),
            root.join("real/y")
        );
    }

    #[test]
    fn byte_sizes_take_binary_suffixes() {
        assert_eq!(parse_byte_size("1000"), Ok(1000));
        assert_eq!(parse_byte_size("128MiB"), Ok(128 << 20));
        assert_eq!(parse_byte_size("1G"), Ok(1 << 30));
        assert_eq!(parse_byte_size("4K"), Ok(4096));
        assert!(parse_byte_size("1.5G").is_err());
        assert!(parse_byte_size("99999999999G").is_err());
    }
}
