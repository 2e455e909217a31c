//! Input from a local folder.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;

use super::{decode, is_input_name, Error, Fetched, InputFile, Result, Source};

/// Extra capacity reserved after each file's bytes so the parser can pad in place without copying.
pub const READ_SLACK: usize = 128;

/// A folder holding `song_data/` and `log_data/`.
#[derive(Debug, Clone)]
pub struct LocalSource {
    root: PathBuf,
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
        })
    }

    fn walk(&self, dir: &Path, rel: &str, out: &mut Vec<InputFile>) -> Result<()> {
        let io_err = |source| Error::Io {
            path: dir.display().to_string(),
            source,
        };
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
                self.walk(&entry.path(), &rel_name, out)?;
            } else if is_input_name(name) {
                let size = entry.metadata().map_err(io_err)?.len();
                out.push(InputFile {
                    name: rel_name,
                    size,
                });
            }
        }
        Ok(())
    }

    fn read(&self, file: &InputFile) -> Result<Vec<u8>> {
        let path = self.root.join(&file.name);
        let io_err = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        let mut f = File::open(&path).map_err(io_err)?;
        let len = f.metadata().map_err(io_err)?.len() as usize;
        let mut bytes = Vec::with_capacity(len + READ_SLACK);
        f.read_to_end(&mut bytes).map_err(io_err)?;
        decode(&file.name, bytes)
    }
}

impl Source for LocalSource {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self, dir: &str) -> Result<Vec<InputFile>> {
        let path = self.root.join(dir);
        let mut out = Vec::new();
        if path.is_dir() {
            self.walk(&path, dir, &mut out)?;
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Reads files a chunk at a time (up to 64 files or 8 MB) and sends them in order. The files of
    /// a chunk are read by two threads of this reader's own (opening many small song files is
    /// system-call bound); the rayon pool is left to the parsers.
    fn fetch(&self, files: &[InputFile], tx: SyncSender<Result<Fetched>>) {
        let mut start = 0;
        while start < files.len() {
            let mut end = start + 1;
            let mut bytes = files[start].size;
            while end < files.len() && end - start < 64 && bytes + files[end].size <= 8 << 20 {
                bytes += files[end].size;
                end += 1;
            }
            let read_one = |index: usize| {
                let file = &files[index];
                self.read(file).map(|bytes| Fetched {
                    index,
                    name: file.name.clone(),
                    bytes,
                })
            };
            let read: Vec<Result<Fetched>> = if end - start == 1 {
                vec![read_one(start)]
            } else {
                let middle = start + (end - start) / 2;
                std::thread::scope(|scope| {
                    let second = scope.spawn(|| (middle..end).map(read_one).collect::<Vec<_>>());
                    let mut first: Vec<_> = (start..middle).map(read_one).collect();
                    match second.join() {
                        Ok(rest) => first.extend(rest),
                        Err(_) => first.extend((middle..end).map(read_one)),
                    }
                    first
                })
            };
            start = end;
            for item in read {
                if tx.send(item).is_err() {
                    return;
                }
            }
        }
    }
}
