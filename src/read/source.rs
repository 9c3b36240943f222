//! Where a reader's bytes come from: the [`ByteSource`] trait, its in-memory and file
//! implementations, and [`AlignedBytes`], the aligned in-memory storage of the whole-file readers.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::format::StoredExtent;
use crate::scratch::try_zeroed;

/// "These byte ranges of the file": everything a [`Reader`](super::Reader) or a
/// [`Metadata`](super::Metadata) needs from where the file lives.
///
/// Any owner of bytes in memory (`&[u8]`, `Vec<u8>`, [`AlignedBytes`], `memmap2::Mmap`: anything
/// `AsRef<[u8]>`) is a source, and says so through [`in_memory`](ByteSource::in_memory), which is
/// what makes zero-copy views possible. [`FileSource`] reads a plain file with positional reads.
/// A remote source (an object store) implements [`read_exact_at`](ByteSource::read_exact_at) and
/// overrides [`read_ranges`](ByteSource::read_ranges) to fetch many ranges in one request.
///
/// # What a source must guarantee
///
/// - **A fixed length.** [`file_len`](ByteSource::file_len) gives the same answer for the source's life.
/// - **Stable bytes.** Two reads of the same range return the same bytes.
/// - **Exact reads or an error.** A read fills the whole buffer, or fails: with `Truncated` when
///   the range runs past the end, `Io` when the storage fails, carrying the offset either way.
/// - **No panic** on any offset and length, including ones past the end.
///
/// # What the reader assumes anyway
///
/// Nothing beyond that contract, and not even that for safety: a source may be hostile, or broken
/// in ways it does not report. Every byte is validated (and covered by a CRC) before it is used,
/// so a source that breaks the contract yields errors or wrong array contents that fail their
/// checksum, never undefined behaviour.
pub trait ByteSource {
    /// The length of the file in bytes.
    fn file_len(&self) -> Result<u64>;

    /// Fills `buf` with the file's bytes `offset..offset + buf.len()`.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// Fills every `(offset, buffer)` pair as [`read_exact_at`](ByteSource::read_exact_at) would,
    /// stopping at the first error. The default reads them one by one, in order; a source with
    /// costly round trips fetches them together.
    fn read_ranges(&self, ranges: &mut [(u64, &mut [u8])]) -> Result<()> {
        ranges
            .iter_mut()
            .try_for_each(|(offset, buf)| self.read_exact_at(*offset, buf))
    }

    /// A hint that the ranges `(offset, length)` will be read soon, so that the source can
    /// start fetching them all at once rather than one read at a time. It changes no result and
    /// reports nothing; the default does nothing. [`FileSource`] asks the kernel to read them
    /// into the page cache.
    fn prefetch(&self, ranges: &[(u64, u64)]) {
        let _ = ranges;
    }

    /// The whole file, if this source holds it in memory: then views borrow from it instead of
    /// copying. `None` (the default) for sources that read on demand.
    fn in_memory(&self) -> Option<&[u8]> {
        None
    }
}

impl<T: AsRef<[u8]> + ?Sized> ByteSource for T {
    fn file_len(&self) -> Result<u64> {
        Ok(self.as_ref().len() as u64)
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        buf.copy_from_slice(Window::whole_file(self.as_ref()).range(offset, buf.len() as u64)?);
        Ok(())
    }

    fn in_memory(&self) -> Option<&[u8]> {
        Some(self.as_ref())
    }
}

/// A plain file read with positional reads (`pread` on unix), so readers on several threads
/// never contend for a file cursor. Its length is taken once, when it is opened.
#[derive(Debug)]
pub struct FileSource {
    file: File,
    len: u64,
    /// Serializes the seek and the read on platforms without positional reads.
    #[cfg(not(unix))]
    cursor: std::sync::Mutex<()>,
}

impl FileSource {
    /// Opens `path` for reading.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        FileSource::new(File::open(path.as_ref()).map_err(|e| Error::io(None, e))?)
    }

    /// Reads from `file`, whose current length becomes the source's length.
    pub fn new(file: File) -> Result<Self> {
        let len = file.metadata().map_err(|e| Error::io(None, e))?.len();
        Ok(FileSource {
            file,
            len,
            #[cfg(not(unix))]
            cursor: std::sync::Mutex::new(()),
        })
    }

    /// The file back.
    pub fn into_file(self) -> File {
        self.file
    }

    #[cfg(unix)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }

    #[cfg(not(unix))]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        let _cursor = self
            .cursor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut file = &self.file;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buf)
    }
}

impl ByteSource for FileSource {
    fn file_len(&self) -> Result<u64> {
        Ok(self.len)
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|end| end > self.len) {
            return Err(past_the_end(offset, buf.len() as u64, self.len));
        }
        self.read_at(offset, buf).map_err(|e| match e.kind() {
            // The file shrank under us: its bytes are not the ones the metadata described.
            std::io::ErrorKind::UnexpectedEof => Error::truncated(offset, "the file ended during a read"),
            _ => Error::io(offset, e),
        })
    }

    /// Many small reads at scattered offsets (the padding checks) each wait for the disk in
    /// turn; asked for together, the disk serves them in parallel.
    fn prefetch(&self, ranges: &[(u64, u64)]) {
        for &(offset, len) in ranges {
            super::mmap::advise_will_need(&self.file, offset, len);
        }
    }
}

#[cold]
fn past_the_end(offset: u64, len: u64, file_len: u64) -> Error {
    Error::truncated(
        offset,
        format!("{len} bytes at {offset:#x} run past the end of the {file_len}-byte file"),
    )
}

/// Bytes `offset..offset + len` of `source`: borrowed when it holds the file in memory, else read
/// into a buffer of their own (allocated fallibly: `len` comes from the file).
pub(crate) fn fetch<S: ByteSource + ?Sized>(source: &S, offset: u64, len: u64) -> Result<Cow<'_, [u8]>> {
    if let Some(file) = source.in_memory() {
        return Window::whole_file(file).range(offset, len).map(Cow::Borrowed);
    }
    let size = usize::try_from(len).map_err(|_| Error::limit(offset, "a range larger than memory"))?;
    let mut buf = try_zeroed(size, offset)?;
    source.read_exact_at(offset, &mut buf)?;
    Ok(Cow::Owned(buf))
}

/// Some of the file's bytes held in memory: the whole file, or a run of extents read from a
/// source. `base` is the file offset of `bytes[0]`.
#[derive(Clone, Copy)]
pub(crate) struct Window<'a> {
    bytes: &'a [u8],
    base: u64,
}

impl<'a> Window<'a> {
    pub(crate) fn whole_file(file: &'a [u8]) -> Self {
        Window { bytes: file, base: 0 }
    }

    pub(crate) fn new(bytes: &'a [u8], base: u64) -> Self {
        Window { bytes, base }
    }

    /// File bytes `offset..offset + len`, or Truncated if the window does not hold them all.
    pub(crate) fn range(&self, offset: u64, len: u64) -> Result<&'a [u8]> {
        let start = offset
            .checked_sub(self.base)
            .and_then(|start| usize::try_from(start).ok());
        let end = start.and_then(|s| s.checked_add(usize::try_from(len).ok()?));
        match (start, end) {
            (Some(start), Some(end)) if end <= self.bytes.len() => Ok(&self.bytes[start..end]),
            _ => Err(past_the_end(offset, len, self.base + self.bytes.len() as u64)),
        }
    }

    /// The stored bytes of `extent`. The layout walk has bounded every extent by the file, so
    /// this fails only when the window was cut too short.
    pub(crate) fn extent(&self, extent: &StoredExtent) -> Result<&'a [u8]> {
        self.range(extent.offset, extent.stored_length)
            .map_err(|_| Error::out_of_bounds(extent.offset, "extent outside the file"))
    }
}

/// File bytes read into memory, 8-byte aligned so typed views of raw arrays need no copy.
#[derive(Debug, Clone)]
pub struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBytes {
    /// Zero-filled storage for `len` bytes.
    pub(crate) fn zeroed(len: usize) -> Self {
        AlignedBytes {
            words: vec![0u64; len.div_ceil(8)],
            len,
        }
    }

    pub(crate) fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }

    /// Reads `source` to its end straight into aligned storage, doubling it as needed (no
    /// second copy of the whole input).
    pub(crate) fn read_all(source: &mut impl Read) -> std::io::Result<Self> {
        let mut bytes = Self::zeroed(0);
        loop {
            if bytes.len == bytes.words.len() * 8 {
                let grown = (bytes.words.len() * 2).max(1 << 13);
                bytes.words.resize(grown, 0);
            }
            let spare = &mut bytemuck::cast_slice_mut(&mut bytes.words)[bytes.len..];
            match source.read(spare) {
                Ok(0) => return Ok(bytes),
                Ok(n) => bytes.len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Copies `bytes` into aligned storage.
    pub fn copy_from(bytes: &[u8]) -> Self {
        let mut aligned = Self::zeroed(bytes.len());
        aligned.as_mut_bytes().copy_from_slice(bytes);
        aligned
    }
}

impl AsRef<[u8]> for AlignedBytes {
    fn as_ref(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }
}
