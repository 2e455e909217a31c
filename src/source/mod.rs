//! Where the JSON comes from: a local folder or an S3 prefix.
//!
//! A [`Source`] lists the files under `song_data/` or `log_data/` and streams their bytes, in listing
//! order, into a bounded channel that the parse workers drain. Bounded means back-pressure: however
//! large the input, only a few buffers are in flight at once.

pub mod budget;
pub mod local;
pub mod s3;

use std::sync::mpsc::SyncSender;

use bytes::Bytes;

/// Errors raised while listing or reading input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input folder or one of its files could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The input holds no files where some were expected.
    #[error("no .json or .json.gz files under {path}")]
    Empty {
        /// The folder or prefix that was listed.
        path: String,
    },
    /// A `.json.gz` file is not valid gzip.
    #[error("cannot decompress {path}: {source}")]
    Gzip {
        /// The file.
        path: String,
        /// The decoder error.
        source: std::io::Error,
    },
    /// A file holds more bytes than may be read into memory at once (`--max-file-bytes`): it was
    /// not read, or not read past the limit.
    #[error("{path} {} more than --max-file-bytes {limit} bytes; not read past the limit", if *.decompressed { "decompresses to" } else { "holds" })]
    TooLarge {
        /// The file.
        path: String,
        /// The limit.
        limit: u64,
        /// Whether the limit was reached by decompressing the file.
        decompressed: bool,
    },
    /// An S3 request failed (after retries).
    #[error(transparent)]
    S3(#[from] crate::s3::S3Error),
    /// A listed file no longer exists when it is read: deleted after listing.
    #[error("cannot read {path}: it does not exist (deleted after listing?)")]
    NotFound {
        /// The file, or the object's `s3://` URL.
        path: String,
        /// What the file system or S3 said.
        source: crate::s3::Cause,
    },
    /// The runtime of the S3 requests could not be started.
    #[error("cannot start the S3 runtime: {source}")]
    Runtime {
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the error concerns one file only, which a run rejects (one rejected record, line
    /// 0) and goes on: it cannot be decompressed, or it is over the size limit.
    pub fn is_file_reject(&self) -> bool {
        matches!(self, Error::Gzip { .. } | Error::TooLarge { .. })
    }

    /// The reject of a file this error is about (see [`Error::is_file_reject`]), named `file`.
    pub fn to_reject(&self, file: &str) -> crate::parse::Reject {
        match self {
            Error::Gzip { source, .. } => crate::parse::Reject::cannot_decompress(file, source),
            other => crate::parse::Reject::unreadable(file, other.to_string()),
        }
    }
}

/// Most bytes one input file may bring into memory by default: a song file, an S3 object, or a
/// compressed file once decompressed (see [`Limits::max_file_bytes`]).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 << 20;

/// Bounds on what one input file may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes a file read into memory whole may hold: song files, S3 objects, and `.gz`
    /// files once decompressed (the decoder stops there). A larger file is rejected, unread or
    /// not read past the limit. Uncompressed local log files are read in parts and have no limit.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// One input file, named relative to the input root with `/` separators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// Path relative to the input root, e.g. `log_data/2018/11/2018-11-01-events.json`.
    pub name: String,
    /// Size in bytes as listed (compressed size for `.gz`).
    pub size: u64,
}

/// The bytes of one input file, decompressed.
#[derive(Debug)]
pub struct Fetched {
    /// Position of the file in the listing that was fetched.
    pub index: usize,
    /// The file's name, as in [`InputFile::name`].
    pub name: String,
    /// The file's content, or a line-aligned part of it (see [`Source::fetch_lines`]): read into
    /// memory, or a read-only mapping of a local file.
    pub bytes: Bytes,
    /// Whether `bytes` starts the file: false for the later parts of a file sent in parts.
    pub starts_file: bool,
}

/// A place input files are listed and read from.
pub trait Source: Send + Sync {
    /// A human-readable location, e.g. `data/` or `s3://bucket/prefix`.
    fn describe(&self) -> String;

    /// Lists every `.json` / `.json.gz` file under `dir` (`song_data` or `log_data`), recursively,
    /// sorted by name. A missing `dir` is an empty list; a missing root is an error.
    fn list(&self, dir: &str) -> Result<Vec<InputFile>>;

    /// Reads `files` and sends them, in the given order, to `tx`. Stops early without error when the
    /// receiver hangs up. Blocks until done; call it on a thread of its own.
    fn fetch(&self, files: &[InputFile], tx: SyncSender<Result<Fetched>>);

    /// Lists and reads every input file under `dir` in one pass on the rayon pool, calling `each`
    /// with each file's name and (decompressed) bytes on the worker that read it, in no particular
    /// order, until `each` returns `false`; `None` when the source cannot, and the caller lists,
    /// then fetches.
    ///
    /// A local disk can: reading a folder's files as soon as it is listed, with no listing pass
    /// that looks up every file once more, is what makes 100k small song files cheap. A source that
    /// must keep many requests in flight to hide latency (S3) cannot. A file that cannot be read
    /// as a whole ([`Error::is_file_reject`]) reaches `each` as that error, for the caller to
    /// reject; any other error stops the walk and is returned.
    fn read_all(
        &self,
        dir: &str,
        each: &(dyn Fn(&str, Result<Bytes>) -> bool + Sync),
    ) -> Option<Result<()>> {
        let _ = (dir, each);
        None
    }

    /// [`Source::fetch`] for files of lines: a source may send a large file as consecutive parts
    /// of about `part` bytes that end at a line break, so that memory holds a few parts rather than
    /// whole files. By default files are sent whole.
    fn fetch_lines(&self, files: &[InputFile], part: usize, tx: SyncSender<Result<Fetched>>) {
        let _ = part;
        self.fetch(files, tx);
    }

    /// Entries named like input files that were skipped because they are not regular files (named
    /// pipes, devices, sockets, links to them): they are never opened for reading.
    fn skipped(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Lists `song_data/` and `log_data/` of `source`; an input with neither is an error.
pub fn list_input(source: &dyn Source) -> Result<(Vec<InputFile>, Vec<InputFile>)> {
    let song_files = source.list("song_data")?;
    let log_files = source.list("log_data")?;
    if song_files.is_empty() && log_files.is_empty() {
        return Err(no_input(source));
    }
    Ok((song_files, log_files))
}

/// The error for an input with neither song nor log files.
pub fn no_input(source: &dyn Source) -> Error {
    Error::Empty {
        path: format!("{}/{{song_data,log_data}}", source.describe()),
    }
}

/// Whether a file name is input data (`.json`, or `.json.gz` to be decompressed).
pub fn is_input_name(name: &str) -> bool {
    name.ends_with(".json") || name.ends_with(".json.gz")
}

/// Whether a `/`-separated name relative to the input root is read by every source: input data
/// ([`is_input_name`]) with no hidden path segment. Hidden folders and files are editor and
/// notebook leftovers (`.ipynb_checkpoints/`, `._x.json`), skipped alike on a disk and in S3.
pub fn is_listed_name(name: &str) -> bool {
    is_input_name(name) && !name.split('/').any(|segment| segment.starts_with('.'))
}

/// Decompresses `bytes` when `name` ends in `.gz`, stopping with [`Error::TooLarge`] past `limit`
/// decompressed bytes (a small file may inflate to gigabytes); returns them unchanged otherwise.
pub fn decode(name: &str, bytes: Vec<u8>, limit: u64) -> Result<Vec<u8>> {
    if !name.ends_with(".gz") {
        return Ok(bytes);
    }
    use std::io::Read;
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(limit as usize));
    flate2::read::MultiGzDecoder::new(bytes.as_slice())
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|source| Error::Gzip {
            path: name.to_string(),
            source,
        })?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge {
            path: name.to_string(),
            limit,
            decompressed: true,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompression_stops_at_the_limit() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&vec![b'x'; 10_000]).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(
            decode("a.json.gz", gz.clone(), 10_000).unwrap().len(),
            10_000
        );
        let err = decode("a.json.gz", gz, 9_999).unwrap_err();
        assert!(err.is_file_reject());
        assert_eq!(
            err.to_string(),
            "a.json.gz decompresses to more than --max-file-bytes 9999 bytes; not read past the limit"
        );
    }
}
