//! Input from a local folder.
//!
//! Log files are memory-mapped a part at a time: the parsers read the page cache directly, where
//! reading them would first copy every byte into a buffer (on a VM that kernel copy can be the
//! largest single cost of a run). Input files must not be changed by another program while a run
//! reads them: [`crate::sys::map_input`] says what truncating or rewriting a mapped file does.
//! Files that cannot be mapped (some network and virtual file systems) are read instead. Song files are a
//! few kilobytes each: one read is cheaper than a mapping (a larger one is mapped too, so that a
//! huge broken file costs only the pages looked at).
//!
//! Only regular files (or links to them) are read. Named pipes, devices and sockets named like
//! input files are skipped with a warning and listed by [`Source::skipped`]: opening a pipe waits
//! for a writer, and reading `/dev/zero` never ends. Files are opened non-blocking, so one that
//! turns into a pipe after it was listed is refused rather than waited for.
//!
//! [`walk`] lists folders, [`file`] reads one file (whole, or in line-aligned parts).

mod file;
mod walk;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use self::file::{open_regular, read_sized, Parts};
use self::walk::Walk;
use super::{decode, Error, Fetched, InputFile, Limits, Result, Source};

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
        let (file, size) = open_regular(path).map_err(|e| open_error(path, e))?;
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
            Err(e) => return tx.send(Err(open_error(&path, e))).is_ok(),
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

/// The error of opening the listed file `path`: [`Error::NotFound`] when it is gone.
fn open_error(path: &Path, source: std::io::Error) -> Error {
    let path = path.display().to_string();
    match source.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound {
            path,
            source: Box::new(source),
        },
        _ => Error::Io { path, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 200 short lines, then a 300-byte line with no final newline (longer than a part).
    pub(super) fn lines_and_a_long_tail() -> Vec<u8> {
        let mut content = Vec::new();
        for i in 0..200 {
            content.extend_from_slice(format!("{{\"n\":{i}}}\n").as_bytes());
        }
        content.extend_from_slice(&[b'x'; 300]); // a line longer than a part, with no final newline
        content
    }

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
        std::fs::File::create(songs.join("huge.json"))
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
