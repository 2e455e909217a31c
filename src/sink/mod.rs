//! Where the star schema goes: Parquet files in a staging folder, then published as a whole.
//!
//! Every run writes into a fresh staging folder; only a complete, successful run is published over
//! the previous output (see [`publish`]), so a reader never sees a half-written set of files.

pub mod lock;
pub mod marker;
pub mod parquet;
pub mod publish;
pub mod rejects;
pub mod s3;
pub mod switch;

use std::path::PathBuf;

/// Errors raised while writing or publishing output.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The Parquet encoder failed.
    #[error("cannot write Parquet {path}: {source}")]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// The encoder's error.
        source: ::parquet::errors::ParquetError,
    },
    /// A folder sparkify would replace or delete holds something it did not write.
    #[error("refusing to replace {path}: {reason}; choose another --output, or move it away")]
    NotOurs {
        /// The folder.
        path: PathBuf,
        /// What is there.
        reason: String,
    },
    /// Another run holds the output's lock.
    #[error("{output} is in use by another sparkify run (pid {}); wait for it to end, or pass --wait-for-lock", holder.map_or_else(|| "unknown".to_string(), |p| p.to_string()))]
    Locked {
        /// The output.
        output: PathBuf,
        /// The pid written in the lock file by its holder.
        holder: Option<u32>,
    },
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds an [`Error::Io`] for `path`.
pub(crate) fn io_error(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
