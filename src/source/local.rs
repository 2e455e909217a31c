//! Input from a local folder.
//!
//! Log files are memory-mapped a part at a time: the parsers read the page cache directly, where
//! reading them would first copy every byte into a buffer (on this kind of machine that kernel
//! copy was the largest single cost of a run). As with any reader that maps its input, a file
//! truncated by another program while sparkify reads it ends the run with `SIGBUS`; files that
//! cannot be mapped (some network and virtual file systems) are read instead. Song files are a
//! few kilobytes each: one read is cheaper than a mapping.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, SyncSender};

use bytes::Bytes;
use memmap2::MmapOptions;
use rayon::prelude::*;

use super::{decode, is_input_name, Error, Fetched, InputFile, Result, Source};

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

    /// Lists the input files under `dir` (named `rel`), walking sub-folders in parallel: listing
    /// many files is one `statx` each, and two cores halve it.
    fn walk(&self, dir: &Path, rel: &str) -> Result<Vec<InputFile>> {
        let FolderEntries { files, folders } = folder_entries(dir, rel)?;
        let mut listed = Vec::with_capacity(files.len());
        for (entry, name) in files {
            let size = entry.metadata().map_err(|source| Error::Io {
                path: entry.path().display().to_string(),
                source,
            })?;
            listed.push(InputFile {
                name,
                size: size.len(),
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
    fn read_folder(
        &self,
        dir: &Path,
        rel: &str,
        each: &(dyn Fn(&str, std::io::Result<Bytes>) + Sync),
    ) -> Result<()> {
        let FolderEntries { files, folders } = folder_entries(dir, rel)?;
        files
            .par_iter()
            .with_min_len(64)
            .try_for_each(|(entry, name)| {
                match read_decoded(&entry.path(), name, None) {
                    Ok(bytes) => each(name, Ok(Bytes::from(bytes))),
                    Err(Error::Gzip { source, .. }) => each(name, Err(source)),
                    Err(e) => return Err(e),
                }
                Ok(())
            })?;
        folders
            .par_iter()
            .try_for_each(|(path, rel_name)| self.read_folder(path, rel_name, each))
    }

    fn read(&self, file: &InputFile) -> Result<Bytes> {
        let path = self.root.join(&file.name);
        read_decoded(&path, &file.name, Some(file.size)).map(Bytes::from)
    }
}

/// The whole input file at `path` (named `name`), decompressed when it is gzip; `size` is its
/// listed size, or `None` to ask the open file.
fn read_decoded(path: &Path, name: &str, size: Option<u64>) -> Result<Vec<u8>> {
    let bytes = File::open(path)
        .and_then(|file| {
            let size = match size {
                Some(size) => size,
                None => file.metadata()?.len(),
            };
            read_sized(file, size)
        })
        .map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
    decode(name, bytes)
}

/// What a folder holds for a run, each entry with its name relative to the input root.
struct FolderEntries {
    /// Input files, by [`is_input_name`].
    files: Vec<(std::fs::DirEntry, String)>,
    /// Sub-folders, by path.
    folders: Vec<(PathBuf, String)>,
}

/// The input files and the sub-folders of `dir`, named below `rel`. Hidden entries are skipped:
/// editor and notebook leftovers such as `.ipynb_checkpoints`.
fn folder_entries(dir: &Path, rel: &str) -> Result<FolderEntries> {
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
        if entry.file_type().map_err(io_err)?.is_dir() {
            folders.push((entry.path(), rel_name));
        } else if is_input_name(name) {
            files.push((entry, rel_name));
        }
    }
    Ok(FolderEntries { files, folders })
}

/// Reads the whole of the open file `f`, expected to hold `expected` bytes, in as few system calls
/// as possible (one read for an unchanged file: 100k song files make this count).
///
/// `std::fs::read` also asks for the file's size and position first and reads once more to see the
/// end. Here the expected size stands in for the size, and a read that stops short at exactly that
/// size is the end of a regular file; a file that grew or shrank meanwhile is read until `read`
/// returns 0, so the content is always whole.
fn read_sized(mut f: File, expected: u64) -> std::io::Result<Vec<u8>> {
    let expected = usize::try_from(expected).unwrap_or(usize::MAX / 2);
    // One spare byte so an unchanged file ends in a short read.
    let mut bytes = vec![0; expected.saturating_add(1)];
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
        if n == 0 || (filled == expected && filled < bytes.len()) {
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

    fn read_all(
        &self,
        dir: &str,
        each: &(dyn Fn(&str, std::io::Result<Bytes>) + Sync),
    ) -> Option<Result<()>> {
        let path = self.root.join(dir);
        Some(match path.is_dir() {
            true => self.read_folder(&path, dir, each),
            false => Ok(()),
        })
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

    /// Uncompressed regular files are mapped a part of about `part` bytes at a time, each cut
    /// after its last line break (the rest starts the next part); compressed ones, and anything
    /// that is not a regular file (a named pipe, say), are read whole until they end.
    fn fetch_lines(&self, files: &[InputFile], part: usize, tx: SyncSender<Result<Fetched>>) {
        for (index, file) in files.iter().enumerate() {
            let sent = if file.name.ends_with(".gz") {
                tx.send(self.read_whole(index, file)).is_ok()
            } else {
                self.send_parts(index, file, part, &tx)
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

    /// Sends `file` as line-aligned parts of about `part` bytes, mapped (or read when the file
    /// cannot be mapped); false when the receiver hung up.
    fn send_parts(
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
        let mut parts = match Parts::open(&path, part) {
            Ok(Some(parts)) => parts,
            Ok(None) => return tx.send(self.read_whole(index, file)).is_ok(),
            Err(e) => return tx.send(Err(io_err(e))).is_ok(),
        };
        let mut starts_file = true;
        loop {
            let bytes = match parts.next_part() {
                Ok(Some(bytes)) => bytes,
                // An empty file is still one (empty) file for the parsers to count.
                Ok(None) if starts_file => Bytes::new(),
                Ok(None) => return true,
                Err(e) => return tx.send(Err(io_err(e))).is_ok(),
            };
            let fetched = Fetched {
                index,
                name: file.name.clone(),
                bytes,
                starts_file,
            };
            if tx.send(Ok(fetched)).is_err() {
                return false;
            }
            starts_file = false;
        }
    }
}

/// An open file cut into line-aligned parts of about `part` bytes.
struct Parts {
    file: File,
    len: u64,
    /// Where the next part starts.
    pos: u64,
    part: usize,
    /// Whether parts are read rather than mapped (the file system cannot map the file).
    read: bool,
}

impl Parts {
    /// The parts of the file at `path`; `None` when it is not a regular file, whose size says
    /// nothing of its content.
    fn open(path: &Path, part: usize) -> std::io::Result<Option<Self>> {
        // Asked before opening: opening a named pipe waits for its writer, and it must be opened
        // only once, by whoever reads it.
        if !std::fs::metadata(path)?.is_file() {
            return Ok(None);
        }
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Some(Self {
            file,
            len,
            pos: 0,
            part: part.max(1),
            read: false,
        }))
    }

    /// The next part, ending after its last line break (or at the end of the file); `None` at the
    /// end. A line longer than a part makes that part as long as needed.
    fn next_part(&mut self) -> std::io::Result<Option<Bytes>> {
        let mut want = self.part as u64;
        loop {
            let left = self.len - self.pos;
            if left == 0 {
                return Ok(None);
            }
            let take = want.min(left);
            let bytes = self.bytes(self.pos, take)?;
            let cut = if take == left {
                Some(bytes.len())
            } else {
                memchr::memrchr(b'\n', &bytes).map(|i| i + 1)
            };
            if let Some(cut) = cut {
                self.pos += cut as u64;
                return Ok(Some(bytes.slice(..cut)));
            }
            want = want.saturating_mul(2);
        }
    }

    /// `len` bytes of the file from `offset`: mapped, or read if the mapping is refused.
    fn bytes(&mut self, offset: u64, len: u64) -> std::io::Result<Bytes> {
        let too_long = || std::io::Error::other("file part does not fit in memory");
        let len = usize::try_from(len).map_err(|_| too_long())?;
        if !self.read {
            // Safety: the mapping is read-only and only ever read as bytes; what another program
            // could do to the file meanwhile (truncate it: SIGBUS) is in the module documentation.
            let mapped = unsafe { MmapOptions::new().offset(offset).len(len).map(&self.file) };
            match mapped {
                Ok(map) => return Ok(Bytes::from_owner(map)),
                Err(_) => self.read = true,
            }
        }
        let mut bytes = vec![0; len];
        read_exact_at(&self.file, &mut bytes, offset)?;
        Ok(Bytes::from(bytes))
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(mut file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(files: &[(&str, &[u8])], part: usize) -> Vec<Fetched> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("log_data")).unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join("log_data").join(name), content).unwrap();
        }
        let source = LocalSource::open(dir.path()).unwrap();
        let files = source.list("log_data").unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel(1000);
        source.fetch_lines(&files, part, tx);
        rx.into_iter().map(|f| f.unwrap()).collect()
    }

    /// The parts of a file holding `content`, mapped or read.
    fn parts_of(content: &[u8], part: usize, read: bool) -> Vec<Bytes> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        std::fs::write(&path, content).unwrap();
        let mut parts = Parts::open(&path, part).unwrap().unwrap();
        parts.read = read;
        std::iter::from_fn(|| parts.next_part().unwrap()).collect()
    }

    fn lines_and_a_long_tail() -> Vec<u8> {
        let mut content = Vec::new();
        for i in 0..200 {
            content.extend_from_slice(format!("{{\"n\":{i}}}\n").as_bytes());
        }
        content.extend_from_slice(&[b'x'; 300]); // a line longer than a part, with no final newline
        content
    }

    #[test]
    fn mapped_and_read_parts_are_line_aligned_and_rebuild_the_file() {
        let content = lines_and_a_long_tail();
        for read in [false, true] {
            let got = parts_of(&content, 64, read);
            assert!(got.len() > 10);
            assert_eq!(got.concat(), content, "read: {read}");
            for (i, part) in got.iter().enumerate() {
                if i + 1 < got.len() {
                    assert_eq!(part.last(), Some(&b'\n'), "part {i} ends a line");
                }
            }
            assert_eq!(got.last().map(|p| p.len()), Some(300));
            assert_eq!(parts_of(&content, 1 << 20, read), [&content[..]]);
        }
    }

    #[test]
    fn files_come_in_order_each_starting_once_and_empty_ones_too() {
        let content = lines_and_a_long_tail();
        let got = fetched(&[("a.json", &content), ("b.json", b"")], 64);
        assert!(got.windows(2).all(|w| w[0].index <= w[1].index));
        let (a, b): (Vec<&Fetched>, Vec<&Fetched>) = got.iter().partition(|f| f.index == 0);
        assert_eq!(
            a.iter()
                .map(|f| f.bytes.to_vec())
                .collect::<Vec<_>>()
                .concat(),
            content
        );
        assert!(a[0].starts_file && a[1..].iter().all(|f| !f.starts_file));
        assert_eq!(b.len(), 1);
        assert!(b[0].starts_file && b[0].bytes.is_empty());
        assert_eq!(b[0].name, "log_data/b.json");
    }

    #[cfg(unix)]
    #[test]
    fn a_named_pipe_is_read_until_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("log_data")).unwrap();
        let pipe = dir.path().join("log_data/live.json");
        let made = std::process::Command::new("mkfifo").arg(&pipe).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", pipe.display());
        let source = LocalSource::open(dir.path()).unwrap();
        let files = source.list("log_data").unwrap();
        assert_eq!(files.len(), 1);
        let content = lines_and_a_long_tail();
        let writer = {
            let (pipe, content) = (pipe.clone(), content.clone());
            std::thread::spawn(move || std::fs::write(pipe, content).unwrap())
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1000);
        let reader = std::thread::spawn(move || source.fetch_lines(&files, 64, tx));
        // A timeout rather than a hang should the pipe ever be opened twice again (the second
        // open would wait for a writer forever).
        let wait = std::time::Duration::from_secs(30);
        let got = rx.recv_timeout(wait).expect("the pipe's content").unwrap();
        assert_eq!(got.bytes, content);
        assert!(got.starts_file);
        assert!(
            rx.recv_timeout(wait).is_err(),
            "one piece only, then the end"
        );
        writer.join().unwrap();
        reader.join().unwrap();
    }
}
