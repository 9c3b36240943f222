//! Memory mapping: the crate's one corner of `unsafe` code.
//!
//! A mapping hands out `&[u8]` over the file's pages. Rust assumes those bytes never change while
//! borrowed, but the operating system does not enforce it: another process (or this one) can
//! write to or truncate the file. Writing changes the bytes under live references, which is
//! undefined behaviour; truncating makes later accesses fault with SIGBUS. memmap2 therefore marks
//! mapping `unsafe`, and so does [`Reader::open_mmap`]: only the caller can promise the file is not
//! modified while it is mapped. The safe constructors ([`Reader::open`], [`Reader::from_bytes`])
//! never map.
//!
//! Writers in this crate never modify a file in place: [`crate::Writer::create`] writes a new
//! file and renames it over the old name, so a reader that mapped the old file keeps the old,
//! intact inode.

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use super::{ReadOptions, Reader};
use crate::error::{Error, Result};

impl Reader<Mmap> {
    /// Maps `path` into memory and validates it. Arrays stored raw are then zero-copy views of
    /// the file's pages.
    ///
    /// # Safety
    ///
    /// This inherits memmap2's contract. The caller must ensure that, for as long as the returned
    /// reader or any view borrowed from it is alive, the file is not modified or truncated, by
    /// this process or any other. A modification while mapped is undefined behaviour; a
    /// truncation makes accesses past the new end raise SIGBUS, killing the process. File
    /// permissions, locks, or a private copy are the usual ways to guarantee it; replacing the
    /// file by rename (as this crate's writer does) is safe for existing mappings.
    pub unsafe fn open_mmap(path: impl AsRef<Path>, options: ReadOptions) -> Result<Self> {
        let file = File::open(path.as_ref()).map_err(|e| Error::io(0, e))?;
        // SAFETY: the caller guarantees, per this function's contract, that the file is neither
        // modified nor truncated while the mapping (owned by the returned reader) is alive.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(0, e))?;
        Reader::from_storage(map, options)
    }
}
