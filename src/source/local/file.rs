//! Reading one file: opened only if regular (never waiting on a pipe), read whole in as few
//! system calls as possible, or mapped a line-aligned part at a time.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use bytes::Bytes;

/// Opens `path` for reading if it is a regular file; returns it and its size. It is opened
/// non-blocking, so that a named pipe put where a file was listed is refused instead of waited on
/// (reading regular files is unaffected by the flag).
pub(super) fn open_regular(path: &Path) -> std::io::Result<(File, u64)> {
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

/// Reads the whole of the open file `f`, expected to hold `expected` bytes, in as few system calls
/// as possible (one read for an unchanged file: 100k song files make this count).
///
/// `std::fs::read` also asks for the file's size and position first and reads once more to see the
/// end. Here the expected size stands in for the size, and a read that stops short at exactly that
/// size is the end of a regular file; a file that grew or shrank meanwhile is read until `read`
/// returns 0, so the content is always whole.
pub(super) fn read_sized(mut f: File, expected: u64) -> std::io::Result<Vec<u8>> {
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

/// An open file cut into line-aligned parts of about `part` bytes.
pub(super) struct Parts {
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
    pub(super) fn open(path: &Path, part: usize) -> std::io::Result<Self> {
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
    pub(super) fn next_part(&mut self) -> std::io::Result<Option<Bytes>> {
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
    use super::super::tests::lines_and_a_long_tail;
    use super::*;

    /// The parts of a file holding `content`, mapped or read.
    fn parts_of(content: &[u8], part: usize, read: bool) -> Vec<Bytes> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        std::fs::write(&path, content).unwrap();
        let mut parts = Parts::open(&path, part).unwrap();
        parts.read = read;
        std::iter::from_fn(|| parts.next_part().unwrap()).collect()
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
}
