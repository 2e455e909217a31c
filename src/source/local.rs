//! Input from a local folder.
//!
//! Log files are memory-mapped a part at a time: the parsers read the page cache directly, where
//! reading them would first copy every byte into a buffer (on this kind of machine that kernel
//! copy was the largest single cost of a run). As with any reader that maps its input, a file
//! truncated by another program while sparkify reads it ends the run with `SIGBUS`; files that
//! cannot be mapped (some network and virtual file systems) are read instead. Song files are a
//! few kilobytes each: one read is cheaper than a mapping (a larger one is mapped too, so that a
//! huge broken file costs only the pages looked at).
//!
//! Only regular files (or links to them) are read. Named pipes, devices and sockets named like
//! input files are skipped with a warning and listed by [`Source::skipped`]: opening a pipe waits
//! for a writer, and reading `/dev/zero` never ends. Files are opened non-blocking, so one that
//! turns into a pipe after it was listed is refused rather than waited for.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use rayon::prelude::*;

use super::{decode, is_input_name, Error, Fetched, InputFile, Limits, Result, Source};

/// Uncompressed song files from this size on are mapped rather than read.
const MAP_SONG_FILES_FROM: u64 = 1 << 20;

/// A folder holding `song_data/` and `log_data/`.
#[derive(Debug, Clone)]
pub struct LocalSource {
    root: PathBuf,
    limits: Limits,
    /// Entries skipped for not being regular files, by name.
    skipped: Arc<Mutex<BTreeSet<String>>>,
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
            limits: Limits::default(),
            skipped: Arc::default(),
        })
    }

    /// Sets the bounds on what one file may cost.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Lists the input files under `dir` (named `rel`), walking sub-folders in parallel: listing
    /// many files is one `statx` each, and two cores halve it.
    fn walk(&self, dir: &Path, rel: &str) -> Result<Vec<InputFile>> {
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
    fn read_folder(
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

    fn read(&self, file: &InputFile) -> Result<Bytes> {
        self.read_decoded(&self.root.join(&file.name), &file.name)
    }

    /// The whole input file at `path` (named `name`), decompressed when it is gzip: read, or
    /// mapped when large; [`Error::TooLarge`] past the limit.
    fn read_decoded(&self, path: &Path, name: &str) -> Result<Bytes> {
        let limit = self.limits.max_file_bytes;
        let io_err = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        let (file, size) = open_regular(path).map_err(io_err)?;
        if size > limit {
            return Err(Error::TooLarge {
                path: name.to_string(),
                limit,
                decompressed: false,
            });
        }
        if name.ends_with(".gz") {
            let bytes = read_sized(file, size).map_err(io_err)?;
            return decode(name, bytes, limit).map(Bytes::from);
        }
        if size >= MAP_SONG_FILES_FROM {
            if let Ok(map) = crate::sys::map_input(&file, 0, None) {
                return Ok(Bytes::from_owner(map));
            }
        }
        read_sized(file, size).map(Bytes::from).map_err(io_err)
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
enum Walk {
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

/// Opens `path` for reading if it is a regular file; returns it and its size. It is opened
/// non-blocking, so that a named pipe put where a file was listed is refused instead of waited on
/// (reading regular files is unaffected by the flag).
fn open_regular(path: &Path) -> std::io::Result<(File, u64)> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok((file, meta.len()))
}

/// What a folder holds for a run, each entry with its name relative to the input root.
struct FolderEntries {
    /// Input files, by [`is_input_name`].
    files: Vec<(std::fs::DirEntry, String)>,
    /// Sub-folders, by path.
    folders: Vec<(PathBuf, String)>,
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
        each: &(dyn Fn(&str, Result<Bytes>) -> bool + Sync),
    ) -> Option<Result<()>> {
        let path = self.root.join(dir);
        if !path.is_dir() {
            return Some(Ok(()));
        }
        Some(match self.read_folder(&path, dir, each) {
            Ok(()) | Err(Walk::Stopped) => Ok(()),
            Err(Walk::Failed(e)) => Err(e),
        })
    }

    fn skipped(&self) -> Vec<String> {
        let skipped = self.skipped.lock().unwrap_or_else(PoisonError::into_inner);
        skipped.iter().cloned().collect()
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

    /// Uncompressed files are mapped a part of about `part` bytes at a time, each cut after its
    /// last line break (the rest starts the next part); compressed ones are read whole (up to the
    /// limit).
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
            Ok(parts) => parts,
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
    /// The parts of the regular file at `path`.
    fn open(path: &Path, part: usize) -> std::io::Result<Self> {
        let (file, len) = open_regular(path)?;
        Ok(Self {
            file,
            len,
            pos: 0,
            part: part.max(1),
            read: false,
        })
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
            match crate::sys::map_input(&self.file, offset, Some(len)) {
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
        let mut parts = Parts::open(&path, part).unwrap();
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
    fn named_pipes_and_links_to_devices_are_skipped_unopened() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("log_data");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(logs.join("a.json"), b"{}\n").unwrap();
        let pipe = logs.join("live.json");
        let made = std::process::Command::new("mkfifo").arg(&pipe).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", pipe.display());
        std::os::unix::fs::symlink("/dev/zero", logs.join("zero.json")).unwrap();
        std::os::unix::fs::symlink(logs.join("a.json"), logs.join("link.json")).unwrap();
        let source = LocalSource::open(dir.path()).unwrap();
        let files = source.list("log_data").unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["log_data/a.json", "log_data/link.json"]);
        assert_eq!(files[1].size, 3, "a link's size is its target's");
        assert_eq!(
            source.skipped(),
            ["log_data/live.json", "log_data/zero.json"]
        );
        // Had the pipe been opened for reading, this would wait for a writer forever.
        let (tx, rx) = std::sync::mpsc::sync_channel(1000);
        source.fetch_lines(&files, 64, tx);
        assert_eq!(
            rx.into_iter()
                .map(|f| f.unwrap().bytes.len())
                .sum::<usize>(),
            6
        );
        // A pipe put where a listed file was is refused, not waited for.
        let raced = [InputFile {
            name: "log_data/live.json".into(),
            size: 0,
        }];
        let (tx, rx) = std::sync::mpsc::sync_channel(1000);
        source.fetch_lines(&raced, 64, tx);
        let err = rx.recv().unwrap().unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn files_over_the_limit_are_rejected_unread() {
        let dir = tempfile::tempdir().unwrap();
        let songs = dir.path().join("song_data");
        std::fs::create_dir_all(&songs).unwrap();
        std::fs::write(songs.join("small.json"), b"{}").unwrap();
        File::create(songs.join("huge.json"))
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
        let limits = Limits {
            max_file_bytes: 1 << 20,
        };
        let source = LocalSource::open(dir.path()).unwrap().with_limits(limits);
        let got = Mutex::new(Vec::new());
        let read = source.read_all("song_data", &|name, bytes| {
            let outcome = bytes.map(|b| b.len()).map_err(|e| e.to_string());
            got.lock().unwrap().push((name.to_string(), outcome));
            true
        });
        read.unwrap().unwrap();
        let mut got = got.into_inner().unwrap();
        got.sort();
        assert_eq!(got[1], ("song_data/small.json".into(), Ok(2)));
        assert_eq!(
            got[0],
            (
                "song_data/huge.json".into(),
                Err("song_data/huge.json holds more than --max-file-bytes 1048576 bytes; not read past the limit".into())
            )
        );
    }
}
