//! Where the star schema goes: Parquet files in a staging folder, then published as a whole.
//!
//! Every run writes into a fresh staging folder; only a complete, successful run is published over
//! the previous output (see [`publish`]), so a reader never sees a half-written set of files.

pub mod parquet;
pub mod publish;
pub mod rejects;
pub mod s3;

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
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds an [`Error::Io`] for `path`.
pub(crate) fn io_error(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
