//! Where the JSON comes from: a local folder or an S3 prefix.
//!
//! A [`Source`] lists the files under `song_data/` or `log_data/` and streams their bytes, in listing
//! order, into a bounded channel that the parse workers drain. Bounded means back-pressure: however
//! large the input, only a few buffers are in flight at once.

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
    /// An S3 request failed (after retries).
    #[error("S3 {op} s3://{bucket}/{key}: {message}")]
    S3 {
        /// The operation (`list`, `get`, `put`, …).
        op: &'static str,
        /// Bucket name.
        bucket: String,
        /// Key or prefix.
        key: String,
        /// What the service or the connection said.
        message: String,
    },
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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
    /// order; `None` when the source cannot, and the caller lists, then fetches.
    ///
    /// A local disk can: reading a folder's files as soon as it is listed, with no listing pass
    /// that looks up every file once more, is what makes 100k small song files cheap. A source that
    /// must keep many requests in flight to hide latency (S3) cannot. A file that cannot be
    /// decompressed reaches `each` as the decoder's error, for the caller to reject; any other
    /// error stops the walk and is returned.
    fn read_all(
        &self,
        dir: &str,
        each: &(dyn Fn(&str, std::io::Result<Bytes>) + Sync),
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

/// Decompresses `bytes` when `name` ends in `.gz`; returns them unchanged otherwise.
pub fn decode(name: &str, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if !name.ends_with(".gz") {
        return Ok(bytes);
    }
    use std::io::Read;
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|source| Error::Gzip {
            path: name.to_string(),
            source,
        })?;
    Ok(out)
}
