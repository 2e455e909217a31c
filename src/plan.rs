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

/// Where a run loads the star schema.
#[derive(Debug, Clone)]
pub enum Target {
    /// Nowhere beyond the Parquet output.
    Local,
    /// A PostgreSQL database.
    Postgres(Box<crate::warehouse::postgres::PgTarget>),
    /// Amazon Redshift, configured in `dwh.cfg`.
    Redshift(Box<crate::warehouse::redshift::RedshiftTarget>),
}

impl Target {
    /// Parses `--target`: `local`, `redshift` or a `postgres://` URL. A URL without a password takes
    /// `PGPASSWORD` from the environment; `redshift` is resolved from `config`. Either way a
    /// plain-text connection to a remote host is refused here unless `allow_insecure`.
    pub fn parse(
        value: &str,
        allow_insecure: bool,
        config: &crate::config::Config,
    ) -> Result<Self> {
        use crate::warehouse::postgres::PgTarget;
        use crate::warehouse::redshift::RedshiftTarget;
        match value {
            "local" => Ok(Target::Local),
            "redshift" => Ok(Target::Redshift(Box::new(RedshiftTarget::from_config(
                config,
                allow_insecure,
            )?))),
            v if v.starts_with("postgres://") || v.starts_with("postgresql://") => {
                let mut target = PgTarget::parse(v)?.allow_insecure_remote(allow_insecure);
                if !target.has_password() {
                    if let Ok(p) = std::env::var("PGPASSWORD") {
                        target = target.with_password(crate::config::Secret::new(p));
                    }
                }
                target.plan()?;
                Ok(Target::Postgres(Box::new(target)))
            }
            _ => Err(Error::Usage(
                "--target must be local, redshift or a postgres:// URL".into(),
            )),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Local => f.write_str("local"),
            Target::Postgres(t) => write!(f, "{t}"),
            Target::Redshift(t) => write!(f, "{t}"),
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
    /// How S3 is reached.
    pub s3: S3Options,
}

/// S3 access settings of a plan (credentials and endpoint come from the standard AWS chain).
#[derive(Debug, Clone)]
pub struct S3Options {
    /// Region, from `[S3] REGION`; `None` uses the AWS chain.
    pub region: Option<String>,
    /// S3 requests in flight at once.
    pub concurrency: usize,
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
                crate::source::s3::S3Location::parse(url)
                    .map_err(|e| Error::Usage(e.to_string()))?;
            }
        }
        if self.s3.concurrency == 0 {
            return Err(Error::Usage("--s3-concurrency must be at least 1".into()));
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
        match &self.output {
            Location::Local(dir) => writeln!(
                f,
                "publish:   atomically replace {} when the run succeeds",
                dir.display()
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
        write!(
            f,
            "bad input: fail past {} rejected records",
            self.max_bad_records
        )
    }
}
