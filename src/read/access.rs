//! Layer 2, data access: views, copies, decodes, byte ranges and chunks of an array, over any
//! [`ByteSource`]. Zero-copy needs a source that holds the file in memory; other sources copy,
//! and every copy is checked against its CRC (spec section 10) before it is handed out. Every
//! accessor goes through `data_info` before it touches an array's bytes, so a partial reader
//! checks the padding before them (R55) first (spec 9.6).

use std::borrow::Cow;
use std::ops::Range;

use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn, ShapeBuilder};

use super::blocks::{decode_block, decode_blocks};
use super::source::{ByteSource, Window};
use super::verify::check_crc;
use super::{ArrayInfo, Reader};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::format::{copy_with_crc32, crc32_parallel, Order};
use crate::graph::ArrayId;
use crate::scratch::{try_resize, try_zeroed};

/// Stored bytes of compressed blocks fetched per request from a source that does not hold the
/// file in memory: large enough to keep every core decoding, small enough to bound memory.
const STORED_BATCH_BYTES: u64 = 64 << 20;

impl<S: ByteSource> Reader<S> {
    /// The bytes of a raw array, borrowed from the file (CRC checked as [`Verify`](super::Verify)
    /// says). Fails with `NotZeroCopy` if the array is compressed or the source does not hold
    /// the file in memory.
    pub fn zero_copy_bytes(&self, id: ArrayId) -> Result<&[u8]> {
        let info = self.data_info(id)?;
        if !info.is_raw() {
            return Err(Error::not_zero_copy(
                info.entry.entry_offset,
                "the array is compressed",
            ));
        }
        let Some(file) = self.source.in_memory() else {
            return Err(Error::not_zero_copy(
                info.entry.entry_offset,
                "the byte source does not hold the file in memory",
            ));
        };
        self.ensure_verified(id)?;
        match info.extents.first() {
            Some(extent) => Window::whole_file(file).extent(extent),
            None => Ok(&[]),
        }
    }

    /// The logical bytes of array `id`: borrowed if raw and in memory, else copied or decoded.
    pub fn read_bytes(&self, id: ArrayId) -> Result<Cow<'_, [u8]>> {
        let info = self.data_info(id)?;
        if info.is_raw() && self.source.in_memory().is_some() {
            return self.zero_copy_bytes(id).map(Cow::Borrowed);
        }
        let mut out = self.allocate_decoded(&info, info.nbytes())?;
        self.copy_into(&info, &mut out)?;
        Ok(Cow::Owned(out))
    }

    /// The length of the buffer [`Reader::read_into`] needs for array `id`: its logical size,
    /// once rule R57 allows it (at most [`Limits::max_decoded_bytes`](crate::Limits), else
    /// `LimitExceeded`). Call it before allocating that buffer.
    pub fn materialized_len(&self, id: ArrayId) -> Result<usize> {
        let info = self.array_info(id)?;
        self.allocate_check(&info, info.nbytes())
    }

    /// Writes array `id`'s logical bytes into `out`, which must be exactly
    /// [`ArrayInfo::nbytes`] long: a raw extent is copied, compressed blocks are decoded
    /// straight into place, on all cores. Like every copy into memory (spec section 10), it checks
    /// the CRCs whatever the [`Verify`](super::Verify) policy: a raw extent's while it is being
    /// copied.
    pub fn read_into(&self, id: ArrayId, out: &mut [u8]) -> Result<()> {
        let info = self.data_info(id)?;
        self.allocate_check(&info, info.nbytes())?;
        if out.len() as u64 != info.nbytes() {
            return Err(Error::length_mismatch(
                None,
                format!(
                    "the array has {} bytes but the buffer {}",
                    info.nbytes(),
                    out.len()
                ),
            ));
        }
        self.copy_into(&info, out)
    }

    /// Bytes `range` of array `id`'s logical bytes, decoding only the blocks the range touches.
    pub fn read_byte_range(&self, id: ArrayId, range: Range<u64>) -> Result<Cow<'_, [u8]>> {
        let info = self.data_info(id)?;
        if range.start > range.end || range.end > info.nbytes() {
            return Err(Error::out_of_bounds(
                None,
                format!("range {range:?} outside the array's {} bytes", info.nbytes()),
            ));
        }
        let (start, end) = (range.start as usize, range.end as usize);
        if info.is_raw() {
            // Out of memory, the whole extent is read: its one CRC covers no smaller part.
            return Ok(match self.read_bytes(id)? {
                Cow::Borrowed(all) => Cow::Borrowed(&all[start..end]),
                Cow::Owned(mut all) => {
                    all.truncate(end);
                    all.drain(..start);
                    Cow::Owned(all)
                }
            });
        }
        let block_size = info.block_size();
        let first = range.start / block_size;
        let last = range.end.div_ceil(block_size).max(first);
        let decoded_start = first * block_size;
        let decoded_end = (last * block_size).min(info.nbytes());
        let mut decoded = self.allocate_decoded(&info, decoded_end - decoded_start)?;
        self.decode_into(&info, first as usize, &mut decoded)?;
        let from = (range.start - decoded_start) as usize;
        decoded.truncate((range.end - decoded_start) as usize);
        decoded.drain(..from);
        Ok(Cow::Owned(decoded))
    }

    /// Calls `sink` with the array's logical bytes in order, one block (or one raw extent) at
    /// a time, so even a huge compressed array is processed in bounded memory.
    pub fn for_each_chunk(&self, id: ArrayId, mut sink: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        let info = self.data_info(id)?;
        if info.is_raw() {
            return sink(&self.read_bytes(id)?);
        }
        let block_size = info.block_size();
        let mut scratch = Vec::new();
        let mut stored = Vec::new();
        for (i, extent) in info.extents.iter().enumerate() {
            let start = i as u64 * block_size;
            let len = self.allocate_check(&info, block_size.min(info.nbytes() - start))?;
            try_resize(&mut scratch, len, extent.offset)?;
            let bytes = match self.source.in_memory() {
                Some(file) => Window::whole_file(file).extent(extent)?,
                None => {
                    try_resize(
                        &mut stored,
                        memory_len(extent.stored_length, extent.offset)?,
                        extent.offset,
                    )?;
                    self.source.read_exact_at(extent.offset, &mut stored)?;
                    &stored
                }
            };
            decode_block(
                bytes,
                extent,
                &mut scratch,
                info.filter(),
                info.dtype().itemsize() as usize,
            )?;
            sink(&scratch)?;
        }
        Ok(())
    }

    /// A typed zero-copy view of a raw array. Fails with `TypeMismatch` if `T` is not the
    /// array's dtype, and with `NotZeroCopy` if the array is compressed, the source does not hold
    /// the file in memory, or its bytes are not aligned for `T` in memory.
    pub fn view<T: Element>(&self, id: ArrayId) -> Result<ArrayViewD<'_, T>> {
        let info = self.array_info(id)?;
        check_element::<T>(&info)?;
        let bytes = self.zero_copy_bytes(id)?;
        let items = cast_items::<T>(bytes, &info)?.ok_or_else(|| {
            Error::not_zero_copy(
                info.extents.first().map(|e| e.offset),
                "the bytes are not aligned for the element type in memory",
            )
        })?;
        ArrayViewD::from_shape(ndarray_shape(&info)?, items)
            .map_err(|e| Error::limit(info.entry.entry_offset, format!("shape: {e}")))
    }

    /// Array `id` as `T`: a borrowed view when the array is raw, in memory and aligned, else a
    /// copy (decoded if compressed).
    pub fn read<T: Element>(&self, id: ArrayId) -> Result<CowArray<'_, T, IxDyn>> {
        let info = self.data_info(id)?;
        check_element::<T>(&info)?;
        if info.is_raw() && self.source.in_memory().is_some() {
            let bytes = self.zero_copy_bytes(id)?;
            if let Some(items) = cast_items::<T>(bytes, &info)? {
                let view = ArrayViewD::from_shape(ndarray_shape(&info)?, items)
                    .map_err(|e| Error::limit(info.entry.entry_offset, format!("shape: {e}")))?;
                return Ok(CowArray::from(view));
            }
        }
        // R57 before the buffer exists: a hostile nbytes must not reach the allocator.
        self.allocate_check(&info, info.nbytes())?;
        let count =
            usize::try_from(info.len()).map_err(|_| Error::limit(None, "array larger than memory"))?;
        let mut items = vec![T::default(); count];
        match T::cast_slice_mut(&mut items) {
            // A copy checks the CRC as it goes (spec section 10), whatever the policy.
            Some(out) => self.read_into(id, out)?,
            None => {
                // Element types with invalid bit patterns (bool) are checked byte by byte.
                let bytes = self.read_bytes(id)?;
                let checked = T::cast_slice(&bytes).ok_or_else(|| invalid_element(&info))?;
                items.copy_from_slice(checked);
            }
        }
        let owned = ArrayD::from_shape_vec(ndarray_shape(&info)?, items)
            .map_err(|e| Error::limit(info.entry.entry_offset, format!("shape: {e}")))?;
        Ok(CowArray::from(owned))
    }

    /// Copies (raw) or decodes (compressed) the whole array into `out`, exactly nbytes long,
    /// checking the CRCs on the way.
    fn copy_into(&self, info: &ArrayInfo<'_>, out: &mut [u8]) -> Result<()> {
        if !info.is_raw() {
            return self.decode_into(info, 0, out);
        }
        let Some(extent) = info.extents.first() else {
            return Ok(());
        };
        if extent.stored_length != out.len() as u64 {
            return Err(Error::length_mismatch(
                extent.offset,
                "raw extent length is not nbytes",
            ));
        }
        let index = info.id().index();
        let this_array = index..index + 1;
        let Some(file) = self.source.in_memory() else {
            // A fresh read from the source: a new copy, so its CRC is checked every time.
            self.source.read_exact_at(extent.offset, out)?;
            return self
                .verified
                .check_and_mark(this_array, || check_crc(extent, crc32_parallel(out)));
        };
        let stored = Window::whole_file(file).extent(extent)?;
        if self.verified.is_set(index) {
            // Already checked in this reader (by `verify_array`, perhaps on another thread), and
            // the bytes in memory are the ones that were checked.
            out.copy_from_slice(stored);
            return Ok(());
        }
        self.verified
            .check_and_mark(this_array, || check_crc(extent, copy_with_crc32(stored, out)))
    }

    pub(super) fn allocate_check(&self, info: &ArrayInfo<'_>, len: u64) -> Result<usize> {
        let max = self.options.limits.max_decoded_bytes;
        if len > max {
            return Err(Error::limit(
                info.entry.entry_offset,
                format!("decoding needs {len} bytes; the limit (Limits::max_decoded_bytes) is {max}"),
            ));
        }
        usize::try_from(len).map_err(|_| Error::limit(info.entry.entry_offset, "array larger than memory"))
    }

    fn allocate_decoded(&self, info: &ArrayInfo<'_>, len: u64) -> Result<Vec<u8>> {
        try_zeroed(self.allocate_check(info, len)?, info.entry.entry_offset)
    }

    /// Decodes blocks `first_block..` of a compressed array into `out` (sized to end on a block
    /// boundary or at the array's end).
    fn decode_into(&self, info: &ArrayInfo<'_>, first_block: usize, out: &mut [u8]) -> Result<()> {
        let block_size = info.block_size() as usize;
        let count = out.len().div_ceil(block_size.max(1));
        let blocks = info
            .extents
            .get(first_block..first_block + count)
            .unwrap_or_default();
        let (filter, itemsize) = (info.filter(), info.dtype().itemsize() as usize);
        if let Some(file) = self.source.in_memory() {
            return decode_blocks(
                Window::whole_file(file),
                blocks,
                block_size,
                out,
                filter,
                itemsize,
            );
        }
        // The layout walk packs an array's blocks end to end, so a run of them is one range.
        let mut rest = blocks;
        let mut out = out;
        let mut stored = Vec::new();
        while let Some(first) = rest.first() {
            let (mut run, mut run_len) = (1, first.stored_length);
            while let Some(next) = rest.get(run) {
                if run_len + next.stored_length > STORED_BATCH_BYTES {
                    break;
                }
                run_len += next.stored_length;
                run += 1;
            }
            let (run, later) = rest.split_at(run);
            try_resize(&mut stored, memory_len(run_len, first.offset)?, first.offset)?;
            self.source.read_exact_at(first.offset, &mut stored)?;
            let decoded_len = (run.len() * block_size).min(out.len());
            let (here, after) = std::mem::take(&mut out).split_at_mut(decoded_len);
            decode_blocks(
                Window::new(&stored, first.offset),
                run,
                block_size,
                here,
                filter,
                itemsize,
            )?;
            (rest, out) = (later, after);
        }
        Ok(())
    }
}

/// `len` bytes found at `offset` as a buffer length.
fn memory_len(len: u64, offset: u64) -> Result<usize> {
    usize::try_from(len).map_err(|_| Error::limit(offset, "stored bytes larger than memory"))
}

fn check_element<T: Element>(info: &ArrayInfo<'_>) -> Result<()> {
    if &T::dtype() != info.dtype() {
        return Err(Error::type_mismatch(
            info.entry.entry_offset,
            format!(
                "the array holds {} but {} was requested",
                info.dtype(),
                T::dtype()
            ),
        ));
    }
    Ok(())
}

/// Casts bytes to elements: `Ok(None)` if they are misaligned in memory, an error if they hold
/// invalid values (a bool byte other than 0 or 1).
fn cast_items<'b, T: Element>(bytes: &'b [u8], info: &ArrayInfo<'_>) -> Result<Option<&'b [T]>> {
    if bytes.is_empty() {
        return Ok(Some(&[]));
    }
    if bytes.as_ptr().align_offset(std::mem::align_of::<T>()) != 0 {
        return Ok(None);
    }
    T::cast_slice(bytes)
        .map(Some)
        .ok_or_else(|| invalid_element(info))
}

fn invalid_element(info: &ArrayInfo<'_>) -> Error {
    Error::invalid_array(
        info.extents.first().map(|e| e.offset),
        format!("an element is not a valid {}", info.dtype()),
    )
}

fn ndarray_shape(info: &ArrayInfo<'_>) -> Result<ndarray::Shape<IxDyn>> {
    let dims = info
        .shape()
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<usize>, _>>()
        .map_err(|_| Error::limit(info.entry.entry_offset, "dimension larger than usize"))?;
    let shape = IxDyn(&dims);
    Ok(match info.order() {
        Order::C => shape.into_shape_with_order(),
        Order::F => shape.f(),
    })
}
