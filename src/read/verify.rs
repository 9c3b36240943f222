//! The data checks a reader remembers per array, and the one place where an array becomes
//! "checked": the CRC policy of spec section 10, and the padding rule R55 as spec section 9.6
//! times it for partial readers.
//!
//! Header, trailer and metadata CRCs are checked at open by layer 1 and never skipped. For array
//! data, [`ArrayFlags::check_and_mark`] is the only function that sets a flag, and it sets it
//! only after a check passed:
//! - CRCs: at open ([`Verify::OnOpen`], or the streamed open), on first access
//!   ([`Verify::OnFirstAccess`]), on a checked copy, and in [`Reader::verify`];
//! - padding: by a whole-file reader's layout walk, before the reader exists ([`Padding::AtOpen`]);
//!   by a partial reader before it first hands out an array's data, and in [`Reader::verify`]
//!   ([`Padding::OnFirstAccess`]). A failed check sets nothing, so that array keeps failing.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::layout::{array_padding, check_array_padding};
use super::source::{ByteSource, Window};
use super::{ArrayInfo, Reader, Verify};
use crate::error::{Error, Result};
use crate::format::{checksum_matches, crc32_parallel, StoredExtent, PARALLEL_MIN_BYTES};
use crate::graph::ArrayId;
use crate::scratch::try_zeroed;

/// Bytes read and hashed at a time when a source does not hold the file in memory.
const HASH_PIECE: usize = 8 << 20;

/// Arrays whose padding a full padding check asks for at once: enough requests to keep a disk
/// busy, few enough that the pages they bring in (a page or two each) stay cached until read.
const PADDING_WINDOW: usize = 1024;

/// When a reader applies R55, the padding rule (spec 9.6). The constructor decides, not the
/// source: `from_bytes`, `from_storage`, `from_reader` and `open` are whole-file readers;
/// `from_source`, `from_metadata` and `open_mmap` are partial readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Padding {
    /// Whole-file readers: every padding region, in the layout walk at open (spec 9.2).
    AtOpen,
    /// Partial readers: the padding before an array's extents when its data is first handed
    /// out, and all of it in [`Reader::verify`].
    OnFirstAccess,
}

/// One flag per array: has this reader done a given check on its data?
pub(super) struct ArrayFlags(Vec<AtomicBool>);

impl ArrayFlags {
    /// `arrays` flags, all clear.
    pub(super) fn new(arrays: usize) -> Self {
        ArrayFlags((0..arrays).map(|_| AtomicBool::new(false)).collect())
    }

    /// False for an unknown index.
    pub(super) fn is_set(&self, index: usize) -> bool {
        self.0
            .get(index)
            .is_some_and(|checked| checked.load(Ordering::Acquire))
    }

    /// Runs `check` (on the data of arrays `arrays`) and, if it passes, marks them checked.
    pub(super) fn check_and_mark(
        &self,
        arrays: Range<usize>,
        check: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        check()?;
        self.0[arrays]
            .iter()
            .for_each(|checked| checked.store(true, Ordering::Release));
        Ok(())
    }
}

/// R58 for one extent, given the CRC-32 `computed` over its stored bytes.
pub(super) fn check_crc(extent: &StoredExtent, computed: u32) -> Result<()> {
    match checksum_matches(extent.crc32, computed) {
        true => Ok(()),
        false => Err(mismatch(extent.offset)),
    }
}

#[cold]
fn mismatch(extent_offset: u64) -> Error {
    Error::checksum(extent_offset, "array data CRC-32 does not match")
}

impl<S: ByteSource> Reader<S> {
    /// Checks every padding region (R55, in file order), every CRC, and decodes every compressed
    /// block (keeping nothing), so afterwards every validation rule of the spec has been applied
    /// to the whole file, whichever constructor opened it.
    pub fn verify(&self) -> Result<()> {
        self.verify_padding()?;
        self.verify_checksums()?;
        for info in self.arrays().filter(|a| !a.is_raw()) {
            self.for_each_chunk(info.id(), |_| Ok(()))?;
        }
        Ok(())
    }

    /// Checks the CRC of every stored extent, in parallel when the file is in memory, and
    /// reports the first mismatch in file order.
    pub fn verify_checksums(&self) -> Result<()> {
        let extents = &self.metadata.extents;
        self.verified.check_and_mark(0..self.array_count(), || {
            let Some(file) = self.source.in_memory() else {
                return extents.iter().try_for_each(|extent| self.check_extent(extent));
            };
            let file = Window::whole_file(file);
            let failed = |extent: &StoredExtent| {
                let ok = file
                    .extent(extent)
                    .map(|b| checksum_matches(extent.crc32, crc32_parallel(b)));
                (!matches!(ok, Ok(true))).then_some(extent.offset)
            };
            let total: u64 = extents.iter().map(|e| e.stored_length).sum();
            let failures: Vec<u64> = if total <= PARALLEL_MIN_BYTES {
                extents.iter().filter_map(failed).collect()
            } else {
                extents.par_iter().filter_map(failed).collect()
            };
            match failures.into_iter().min() {
                Some(offset) => Err(mismatch(offset)),
                None => Ok(()),
            }
        })
    }

    /// Checks the CRCs of array `id`'s stored extents now, whatever the [`Verify`] policy, unless
    /// this reader has already checked them (and, in a partial reader, the padding before them
    /// first, as every data access does). A later [`Reader::read_into`] of a checked raw
    /// array held in memory is then a plain copy: a loader can check arrays on one thread while
    /// another copies them.
    pub fn verify_array(&self, id: ArrayId) -> Result<()> {
        let info = self.data_info(id)?;
        if self.verified.is_set(id.index()) {
            return Ok(());
        }
        self.verified
            .check_and_mark(id.index()..id.index() + 1, || self.check_extents(&info))
    }

    /// Whether this reader has checked the CRCs of array `id` (false for an unknown id).
    pub fn is_verified(&self, id: ArrayId) -> bool {
        self.verified.is_set(id.index())
    }

    /// The table entry of array `id`, once R55 holds for the padding before its extents: every
    /// accessor that hands out an array's data (or checks it) starts here (spec 9.6).
    pub(super) fn data_info(&self, id: ArrayId) -> Result<ArrayInfo<'_>> {
        let info = self.array_info(id)?;
        self.check_padding_of(id.index(), &self.source)?;
        Ok(info)
    }

    /// R55 before array `index`'s extents, read from `file`, unless this reader checked it.
    fn check_padding_of<T: ByteSource + ?Sized>(&self, index: usize, file: &T) -> Result<()> {
        if self.padding_checked.is_set(index) {
            return Ok(());
        }
        self.padding_checked.check_and_mark(index..index + 1, || {
            check_array_padding(file, &self.metadata, index)
        })
    }

    /// Applies R55 to every padding region this reader has not yet checked, array by array in
    /// file order (spec 9.6): a no-op for a whole-file reader. A partial reader about to read
    /// every array calls it first, so the pages beside the padding are touched front to back
    /// rather than in the order the arrays are used (which may defeat the kernel's readahead).
    /// Over a mapping, prefer [`Reader::verify_padding_from`].
    pub fn verify_padding(&self) -> Result<()> {
        self.check_all_padding(&self.source)
    }

    /// [`Reader::verify_padding`], reading the padding from `file`: another handle to the file
    /// this reader's source holds, typically a [`FileSource`](super::FileSource) on the `File`
    /// that was mapped. A padding check touches one page beside every extent; through a mapping
    /// each first touch faults in a whole readahead window (megabytes), so checking a cold
    /// file's padding reads nearly all of it, while a positional read fetches only the pages
    /// asked for. What passes is remembered exactly as if read from the source, so `file` must
    /// hold the same bytes (as [`Reader::from_metadata`] trusts its metadata to describe its
    /// source); one of another length fails with LengthMismatch.
    pub fn verify_padding_from<T: ByteSource + ?Sized>(&self, file: &T) -> Result<()> {
        super::check_same_length(file, &self.metadata)?;
        self.check_all_padding(file)
    }

    /// R55 for every array not yet checked, in file order, reading from `file`: a window of
    /// arrays at a time, each window's padding asked for at once ([`ByteSource::prefetch`]).
    fn check_all_padding<T: ByteSource + ?Sized>(&self, file: &T) -> Result<()> {
        let unchecked: Vec<usize> = (0..self.array_count())
            .filter(|&index| !self.padding_checked.is_set(index))
            .collect();
        unchecked.chunks(PADDING_WINDOW).try_for_each(|window| {
            let ranges: Vec<(u64, u64)> = window
                .iter()
                .flat_map(|&index| array_padding(&self.metadata, index))
                .collect();
            file.prefetch(&ranges);
            window
                .iter()
                .try_for_each(|&index| self.check_padding_of(index, file))
        })
    }

    /// Finishes opening: the padding flags as `padding` says, then the CRC policy.
    pub(super) fn with_metadata(
        source: S,
        metadata: super::Metadata,
        options: super::ReadOptions,
        padding: Padding,
    ) -> Result<Self> {
        let arrays = metadata.array_count();
        let reader = Reader {
            verified: ArrayFlags::new(arrays),
            padding_checked: ArrayFlags::new(arrays),
            source,
            metadata,
            options,
        };
        if padding == Padding::AtOpen {
            // The layout walk checked every padding region before this reader existed.
            reader.padding_checked.check_and_mark(0..arrays, || Ok(()))?;
        }
        if reader.options.verify == Verify::OnOpen {
            reader.verify_padding()?;
            reader.verify_checksums()?;
        }
        Ok(reader)
    }

    /// The [`Verify`] policy before a zero-copy access: check now unless it is
    /// [`Verify::Explicit`] (or already done).
    pub(super) fn ensure_verified(&self, id: ArrayId) -> Result<()> {
        if self.options.verify == Verify::Explicit {
            return Ok(());
        }
        self.verify_array(id)
    }

    /// Records CRC results computed while the file streamed in (`None`: not computed, check
    /// now), and fails at the first mismatch in file order.
    pub(super) fn apply_checks(&mut self, checks: Vec<Option<bool>>) -> Result<()> {
        self.verified.check_and_mark(0..self.metadata.array_count(), || {
            for (extent, check) in self.metadata.extents.iter().zip(checks) {
                match check {
                    Some(true) => {}
                    Some(false) => return Err(mismatch(extent.offset)),
                    None => self.check_extent(extent)?,
                }
            }
            Ok(())
        })?;
        self.options.verify = Verify::OnOpen;
        Ok(())
    }

    /// Checks the CRC of every extent of one array, now.
    fn check_extents(&self, info: &ArrayInfo<'_>) -> Result<()> {
        info.extents
            .iter()
            .try_for_each(|extent| self.check_extent(extent))
    }

    /// R58 for one extent: hashed in place when the file is in memory, else read and hashed a
    /// piece at a time, so memory stays bounded.
    fn check_extent(&self, extent: &StoredExtent) -> Result<()> {
        if let Some(file) = self.source.in_memory() {
            let stored = Window::whole_file(file).extent(extent)?;
            return check_crc(extent, crc32_parallel(stored));
        }
        let piece_len = extent.stored_length.min(HASH_PIECE as u64) as usize;
        let mut piece = try_zeroed(piece_len, extent.offset)?;
        let mut hasher = crc32fast::Hasher::new();
        let mut at = extent.offset;
        let end = extent.offset + extent.stored_length;
        while at < end {
            let n = (end - at).min(HASH_PIECE as u64) as usize;
            self.source.read_exact_at(at, &mut piece[..n])?;
            hasher.update(&piece[..n]);
            at += n as u64;
        }
        check_crc(extent, hasher.finalize())
    }
}
