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
}

impl TransformPlan {
    /// Checks what can be checked without reading data.
    pub fn validate(self) -> Result<Self> {
        if self.writer.rows_per_file == 0 {
            return Err(Error::Usage("--rows-per-file must be at least 1".into()));
        }
        if let (Location::Local(i), Location::Local(o)) = (&self.input, &self.output) {
            if let (Ok(i), Ok(o)) = (i.canonicalize(), o.canonicalize()) {
                if i == o || i.starts_with(&o) {
                    return Err(Error::Usage(format!(
                        "--output {} would replace the input folder {}",
                        o.display(),
                        i.display()
                    )));
                }
            }
        }
        for loc in [&self.input, &self.output] {
            if let Location::S3(url) = loc {
                return Err(Error::Usage(format!(
                    "{url}: S3 locations are not supported by this build yet"
                )));
            }
        }
        Ok(self)
    }
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
        writeln!(
            f,
            "publish:   atomically replace {} when the run succeeds",
            self.output
        )?;
        write!(
            f,
            "bad input: fail past {} rejected records",
            self.max_bad_records
        )
    }
}
