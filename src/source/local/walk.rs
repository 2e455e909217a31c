//! Listing a folder tree: hidden entries and non-input names skipped, links followed to files,
//! anything that is not a regular file set aside unopened; sub-folders in parallel.

use std::path::{Path, PathBuf};
use std::sync::PoisonError;

use bytes::Bytes;
use rayon::prelude::*;

use super::LocalSource;
use crate::source::{is_input_name, Error, InputFile, Result};

impl LocalSource {
    /// Lists the input files under `dir` (named `rel`), walking sub-folders in parallel: listing
    /// many files is one `statx` each, and two cores halve it.
    pub(super) fn walk(&self, dir: &Path, rel: &str) -> Result<Vec<InputFile>> {
        let FolderEntries { files, folders } = self.folder_entries(dir, rel)?;
        let mut listed = Vec::with_capacity(files.len());
        for (entry, name) in files {
            let path = entry.path();
            // A link's own size says nothing of its target's.
            let meta = match entry.file_type() {
                Ok(kind) if kind.is_symlink() => std::fs::metadata(&path),
                _ => entry.metadata(),
            };
            let meta = meta.map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?;
            listed.push(InputFile {
                name,
                size: meta.len(),
            });
        }
        let nested: Vec<Vec<InputFile>> = folders
            .par_iter()
            .map(|(path, rel_name)| self.walk(path, rel_name))
            .collect::<Result<_>>()?;
        listed.extend(nested.into_iter().flatten());
        Ok(listed)
    }

    /// [`Source::read_all`] for the folder `dir` (named `rel`): its files, each read as soon as
    /// the folder is listed (what the kernel looked up for the listing is still in the caches),
    /// and its sub-folders, all in parallel (a folder of many files is shared out too).
    pub(super) fn read_folder(
        &self,
        dir: &Path,
        rel: &str,
        each: &(dyn Fn(&str, Result<Bytes>) -> bool + Sync),
    ) -> Result<(), Walk> {
        let FolderEntries { files, folders } = self.folder_entries(dir, rel)?;
        files
            .par_iter()
            .with_min_len(64)
            .try_for_each(|(entry, name)| {
                let read = match self.read_decoded(&entry.path(), name) {
                    Err(e) if !e.is_file_reject() => return Err(Walk::Failed(e)),
                    read => read,
                };
                match each(name, read) {
                    true => Ok(()),
                    false => Err(Walk::Stopped),
                }
            })?;
        folders
            .par_iter()
            .try_for_each(|(path, rel_name)| self.read_folder(path, rel_name, each))
    }

    /// The input files and the sub-folders of `dir`, named below `rel`. Hidden entries are
    /// skipped (editor and notebook leftovers such as `.ipynb_checkpoints`), and so are entries
    /// that are not regular files or folders (recorded in `skipped`); links are followed to
    /// files, not to folders.
    fn folder_entries(&self, dir: &Path, rel: &str) -> Result<FolderEntries> {
        let io_err = |source| Error::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut files = Vec::new();
        let mut folders = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            let rel_name = format!("{rel}/{name}");
            let mut kind = entry.file_type().map_err(io_err)?;
            if kind.is_dir() {
                folders.push((entry.path(), rel_name));
                continue;
            }
            if !is_input_name(name) {
                continue;
            }
            if kind.is_symlink() {
                match std::fs::metadata(entry.path()) {
                    Ok(target) => kind = target.file_type(),
                    Err(source) => {
                        return Err(Error::Io {
                            path: entry.path().display().to_string(),
                            source,
                        })
                    }
                }
            }
            if kind.is_file() {
                files.push((entry, rel_name));
            } else {
                self.skip(rel_name, kind);
            }
        }
        Ok(FolderEntries { files, folders })
    }

    /// Records an entry that is not a regular file, once, with a warning.
    fn skip(&self, name: String, kind: std::fs::FileType) {
        let mut skipped = self.skipped.lock().unwrap_or_else(PoisonError::into_inner);
        if !skipped.contains(&name) {
            tracing::warn!(
                "skipped {}/{name}: {}, not a regular file",
                self.root.display(),
                describe_kind(kind)
            );
            skipped.insert(name);
        }
    }
}

/// How a walk of the folders ended early.
pub(super) enum Walk {
    /// A file or folder could not be read.
    Failed(Error),
    /// The caller asked to stop.
    Stopped,
}

impl From<Error> for Walk {
    fn from(e: Error) -> Self {
        Walk::Failed(e)
    }
}

/// What kind of non-regular file `kind` is, in words.
fn describe_kind(kind: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    let _ = kind;
    "something else"
}

/// What a folder holds for a run, each entry with its name relative to the input root.
struct FolderEntries {
    /// Input files, by [`is_input_name`].
    files: Vec<(std::fs::DirEntry, String)>,
    /// Sub-folders, by path.
    folders: Vec<(PathBuf, String)>,
}
