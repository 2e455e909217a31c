//! Input from a local folder.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, SyncSender};
use std::sync::Arc;

use rayon::prelude::*;

use super::pool::BufferPool;
use super::{decode, is_input_name, Error, Fetched, InputFile, Result, Source};

/// Extra capacity reserved after each file's bytes so the parser can pad in place without copying.
pub const READ_SLACK: usize = 128;

/// A folder holding `song_data/` and `log_data/`.
#[derive(Debug, Clone)]
pub struct LocalSource {
    root: PathBuf,
    buffers: Arc<BufferPool>,
}

impl LocalSource {
    /// A source rooted at `root`; fails when `root` is not a readable folder.
    pub fn open(root: &Path) -> Result<Self> {
        let meta = std::fs::metadata(root).map_err(|source| Error::Io {
            path: root.display().to_string(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(Error::Io {
                path: root.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"),
            });
        }
        Ok(Self {
            root: root.to_path_buf(),
            buffers: Arc::default(),
        })
    }

    /// Lists the input files under `dir` (named `rel`), walking sub-folders in parallel: listing
    /// 100k song files is one `statx` each, and two cores halve it.
    fn walk(&self, dir: &Path, rel: &str) -> Result<Vec<InputFile>> {
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
                continue; // editor and notebook leftovers such as .ipynb_checkpoints
            }
            let rel_name = format!("{rel}/{name}");
            let kind = entry.file_type().map_err(io_err)?;
            if kind.is_dir() {
                folders.push((entry.path(), rel_name));
            } else if is_input_name(name) {
                let size = entry.metadata().map_err(io_err)?.len();
                files.push(InputFile {
                    name: rel_name,
                    size,
                });
            }
        }
        let nested: Vec<Vec<InputFile>> = folders
            .par_iter()
            .map(|(path, rel_name)| self.walk(path, rel_name))
            .collect::<Result<_>>()?;
        files.extend(nested.into_iter().flatten());
        Ok(files)
    }

    fn read(&self, file: &InputFile) -> Result<Vec<u8>> {
        let path = self.root.join(&file.name);
        let bytes = read_listed(&path, file.size, &self.buffers).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        decode(&file.name, bytes)
    }
}

/// Reads the whole file at `path`, which was listed with `listed` bytes, into a buffer from `pool`
/// in as few system calls as possible (open, one read, close for an unchanged file: 100k song files
/// make this count).
///
/// `std::fs::read` also asks for the file's size and position first and reads once more to see the
/// end. Here the listed size stands in for the size, and a read that stops short at exactly that size
/// is the end of a regular file; a file that grew or shrank since listing is read until `read`
/// returns 0, so the content is always whole.
fn read_listed(path: &Path, listed: u64, pool: &BufferPool) -> std::io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let listed = usize::try_from(listed).unwrap_or(usize::MAX / 2);
    // One spare byte so an unchanged file ends in a short read.
    let mut bytes = pool.take(listed.saturating_add(1), READ_SLACK);
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            bytes.resize(bytes.len().saturating_mul(2).max(4096), 0);
        }
        let n = match f.read(&mut bytes[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        filled += n;
        if n == 0 || (filled == listed && filled < bytes.len()) {
            break;
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

impl Source for LocalSource {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn recycle(&self, buffer: Vec<u8>) {
        self.buffers.give(buffer);
    }

    fn list(&self, dir: &str) -> Result<Vec<InputFile>> {
        let path = self.root.join(dir);
        let mut out = Vec::new();
        if path.is_dir() {
            out = self.walk(&path, dir)?;
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Reads files a chunk at a time (up to 256 files or 8 MB) and sends them in order. This thread
    /// and one helper each read half of every chunk (opening many small song files is system-call
    /// bound); the rayon pool is left to the parsers.
    fn fetch(&self, files: &[InputFile], tx: SyncSender<Result<Fetched>>) {
        let read_range = |range: std::ops::Range<usize>| -> Vec<Result<Fetched>> {
            range
                .map(|index| {
                    let file = &files[index];
                    self.read(file).map(|bytes| Fetched {
                        index,
                        name: file.name.clone(),
                        bytes,
                    })
                })
                .collect()
        };
        std::thread::scope(|scope| {
            let (job_tx, job_rx) = channel::<std::ops::Range<usize>>();
            let (done_tx, done_rx) = channel();
            let helper = std::thread::Builder::new()
                .name("sparkify-read".into())
                .spawn_scoped(scope, move || {
                    for range in job_rx {
                        if done_tx.send(read_range(range)).is_err() {
                            return;
                        }
                    }
                });
            let mut start = 0;
            while start < files.len() {
                let mut end = start + 1;
                let mut bytes = files[start].size;
                while end < files.len() && end - start < 256 && bytes + files[end].size <= 8 << 20 {
                    bytes += files[end].size;
                    end += 1;
                }
                let middle = start + (end - start) / 2;
                // Without the helper (it could not start or has stopped) this thread reads it all.
                let shared = middle > start && helper.is_ok() && job_tx.send(middle..end).is_ok();
                let mut read = read_range(start..if shared { middle } else { end });
                if shared {
                    match done_rx.recv() {
                        Ok(rest) => read.extend(rest),
                        Err(_) => read.extend(read_range(middle..end)),
                    }
                }
                start = end;
                for item in read {
                    if tx.send(item).is_err() {
                        return;
                    }
                }
            }
        });
    }
}
