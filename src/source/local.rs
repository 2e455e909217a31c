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

    fn reads_cheaply(&self) -> bool {
        true
    }

    fn read_one(&self, file: &InputFile) -> Result<Vec<u8>> {
        self.read(file)
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
                .map(|index| self.read_whole(index, &files[index]))
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

    /// Uncompressed files larger than `part` are read a part at a time, each cut after its last
    /// line break (the rest starts the next part); others are read whole.
    fn fetch_lines(&self, files: &[InputFile], part: usize, tx: SyncSender<Result<Fetched>>) {
        for (index, file) in files.iter().enumerate() {
            let whole = file.size <= part as u64 || file.name.ends_with(".gz");
            let sent = if whole {
                tx.send(self.read_whole(index, file)).is_ok()
            } else {
                self.read_in_parts(index, file, part, &tx)
            };
            if !sent {
                return;
            }
        }
    }
}

impl LocalSource {
    /// The whole of `file`, the `index`-th of its listing.
    fn read_whole(&self, index: usize, file: &InputFile) -> Result<Fetched> {
        self.read(file).map(|bytes| Fetched {
            index,
            name: file.name.clone(),
            bytes,
            starts_file: true,
        })
    }

    /// Sends `file` as line-aligned parts of about `part` bytes; false when the receiver hung up.
    fn read_in_parts(
        &self,
        index: usize,
        file: &InputFile,
        part: usize,
        tx: &SyncSender<Result<Fetched>>,
    ) -> bool {
        let path = self.root.join(&file.name);
        let io_err = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) => return tx.send(Err(io_err(e))).is_ok(),
        };
        let mut carry: Vec<u8> = Vec::new();
        let mut starts_file = true;
        loop {
            let mut bytes = self.buffers.take(part.max(carry.len() + 1), READ_SLACK);
            bytes[..carry.len()].copy_from_slice(&carry);
            let (filled, end, last) = match fill_to_line(&mut f, &mut bytes, carry.len()) {
                Ok(done) => done,
                Err(e) => return tx.send(Err(io_err(e))).is_ok(),
            };
            carry.clear();
            carry.extend_from_slice(&bytes[end..filled]);
            bytes.truncate(end);
            let fetched = Fetched {
                index,
                name: file.name.clone(),
                bytes,
                starts_file,
            };
            if tx.send(Ok(fetched)).is_err() {
                return false;
            }
            if last {
                return true;
            }
            starts_file = false;
        }
    }
}

/// Reads from `f` into `bytes[filled..]` until the buffer is full, growing it while it holds no
/// line break; returns how much was filled, where the part ends (after its last line break, or at
/// the end of the data at the end of the file) and whether the file ended.
fn fill_to_line(
    f: &mut File,
    bytes: &mut Vec<u8>,
    mut filled: usize,
) -> std::io::Result<(usize, usize, bool)> {
    loop {
        while filled < bytes.len() {
            match f.read(&mut bytes[filled..]) {
                Ok(0) => return Ok((filled, filled, true)),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(i) = memchr::memrchr(b'\n', &bytes[..filled]) {
            return Ok((filled, i + 1, false));
        }
        // One line longer than a part: read on until it ends.
        let grown = bytes.len() * 2;
        bytes.resize(grown, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(content: &[u8], part: usize) -> Vec<Fetched> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("log_data")).unwrap();
        std::fs::write(dir.path().join("log_data/a.json"), content).unwrap();
        let source = LocalSource::open(dir.path()).unwrap();
        let files = source.list("log_data").unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel(1000);
        source.fetch_lines(&files, part, tx);
        rx.into_iter().map(|f| f.unwrap()).collect()
    }

    #[test]
    fn large_files_come_in_line_aligned_parts_that_rebuild_the_file() {
        let mut content = Vec::new();
        for i in 0..200 {
            content.extend_from_slice(format!("{{\"n\":{i}}}\n").as_bytes());
        }
        content.extend_from_slice(&[b'x'; 300]); // a line longer than a part, with no final newline
        let got = parts(&content, 64);
        assert!(got.len() > 10);
        let rebuilt: Vec<u8> = got.iter().flat_map(|f| f.bytes.clone()).collect();
        assert_eq!(rebuilt, content);
        for (i, part) in got.iter().enumerate() {
            assert_eq!(part.starts_file, i == 0);
            assert_eq!(part.index, 0);
            if i + 1 < got.len() {
                assert_eq!(part.bytes.last(), Some(&b'\n'), "part {i} ends a line");
            }
        }
        let whole = parts(&content, 1 << 20);
        assert_eq!(whole.len(), 1);
        assert!(whole[0].starts_file);
    }
}
