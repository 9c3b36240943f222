//! Reading: bytes in, a validated file out, then arrays as zero-copy views or decoded copies.
//!
//! # API structure
//!
//! Start with a [`Reader`]. There are three ways to get one, all sharing one validation path:
//! - [`Reader::from_bytes`] over any `&[u8]` you already hold: safe and zero-copy;
//! - [`Reader::open`], which reads the whole file with plain reads (for filesystems where mmap
//!   fails) and checks every CRC while the bytes are in memory;
//! - the `unsafe` [`Reader::open_mmap`], which maps the file (see its safety contract).
//!
//! Opening checks everything structural before it hands out anything: magic, version and
//! features, the header, trailer and metadata CRCs, every count, index and limit, and the layout
//! walk that makes the data region exactly the arrays' extents. Array CRCs are checked as
//! [`Verify`] says.
//!
//! Then: [`Reader::graph`] for the object graph, [`Reader::array_info`] for an array's dtype,
//! shape and storage, and for its data:
//! - [`Reader::view`]: a typed zero-copy `ArrayView`, or an error if that is impossible;
//! - [`Reader::read`]: a typed `CowArray`, borrowed when possible, decoded otherwise;
//! - [`Reader::read_bytes`] / [`Reader::zero_copy_bytes`]: raw logical bytes, for dtypes with no
//!   Rust element type (records, strings, datetimes, float8);
//! - [`Reader::read_byte_range`]: part of an array, decoding only the blocks it touches.
//!
//! ```
//! use amberfile::{ArraySpec, Compression, DType, Graph, Node, ReadOptions, Reader, WriteOptions, Writer};
//!
//! let values: Vec<f32> = (0..1000).map(|i| i as f32).collect();
//! let options = WriteOptions { block_size: 400, ..WriteOptions::default() };
//! let mut writer = Writer::new(Vec::new(), options)?;
//! let raw = writer.write_ndarray(&ndarray::Array1::from(values.clone()))?;
//! let packed = writer.write_array_with(
//!     &ArraySpec::c(DType::Float32, &[1000]),
//!     bytemuck::cast_slice(&values),
//!     Compression::Zstd { level: 3, shuffle: true },
//! )?;
//! let mut graph = Graph::new();
//! let (a, b) = (graph.add(Node::Array(raw)), graph.add(Node::Array(packed)));
//! let root = graph.add(Node::List(&[a, b]));
//! graph.set_root(root);
//! let bytes = writer.finish(&graph)?;
//!
//! let reader = Reader::from_bytes(&bytes, ReadOptions::default())?;
//! let items = reader.graph().node(reader.root()).as_seq().unwrap();
//! let raw = reader.graph().node(items[0]).as_array().unwrap();
//! let packed = reader.graph().node(items[1]).as_array().unwrap();
//!
//! assert_eq!(reader.view::<f32>(raw)?[999], 999.0);               // zero-copy
//! assert_eq!(reader.view::<f32>(packed).unwrap_err().class(), "NotZeroCopy");
//! assert_eq!(reader.read::<f32>(packed)?[999], 999.0);            // decoded
//! assert_eq!(reader.view::<f64>(raw).unwrap_err().class(), "TypeMismatch");
//! // Bytes 2000..2008 (elements 500 and 501) decode one 400-byte block, not all ten.
//! let part = reader.read_byte_range(packed, 2000..2008)?;
//! assert_eq!(bytemuck::pod_read_unaligned::<[f32; 2]>(&part), [500.0, 501.0]);
//! reader.verify()?;
//! # Ok::<(), amberfile::Error>(())
//! ```

mod cursor;
mod decode;
mod layout;
pub(crate) mod metadata;
// The library's one unsafe corner: mapping a file (see `Reader::open_mmap`).
#[allow(unsafe_code)]
mod mmap;
mod streamed;

use std::borrow::Cow;
use std::io::Read;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn, ShapeBuilder};
use rayon::prelude::*;

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::format::{
    checksum_matches, crc32, crc32_parallel, is_newer_minor, Codec, Filter, Header, Order, StoredExtent,
    Trailer, HEADER_LEN, KNOWN_REQUIRED_FEATURES, MAGIC, PARALLEL_MIN_BYTES, TRAILER_LEN, VERSION_MAJOR,
};
use crate::graph::{ArrayId, Graph, NodeId};
use crate::limits::{Limits, MAX_ALIGNMENT, MIN_ALIGNMENT};
use cursor::ByteCursor;
pub(crate) use decode::release_if_large;
use decode::{copy_with_crc32, decode_block, decode_blocks, stored_bytes, try_resize, try_zeroed};
pub use metadata::ArrayEntry;

/// When the CRCs of array data are checked. Header, trailer and metadata CRCs are always
/// checked at open, and compressed blocks always before they are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// Check every extent while opening.
    OnOpen,
    /// Check an array's extents the first time its data is accessed.
    #[default]
    OnFirstAccess,
    /// Only when the caller calls [`Reader::verify`] (or decodes a compressed array).
    Explicit,
}

/// Reader settings: limits and the verification policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Caps on counts, sizes and memory; exceeding one is LimitExceeded.
    pub limits: Limits,
    /// When array CRCs are checked.
    pub verify: Verify,
}

/// A validated Amber file over some bytes `S`. See the [module docs](self).
pub struct Reader<S> {
    storage: S,
    header: Header,
    trailer: Trailer,
    graph: Graph,
    arrays: Vec<ArrayEntry>,
    dims: Vec<u64>,
    extents: Vec<StoredExtent>,
    options: ReadOptions,
    verified: Vec<AtomicBool>,
}

impl<S> std::fmt::Debug for Reader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("header", &self.header)
            .field("nodes", &self.graph.len())
            .field("arrays", &self.arrays.len())
            .finish_non_exhaustive()
    }
}

/// What the array table says about one array.
#[derive(Debug, Clone, Copy)]
pub struct ArrayInfo<'r> {
    id: ArrayId,
    entry: &'r ArrayEntry,
    shape: &'r [u64],
    extents: &'r [StoredExtent],
}

impl<'r> ArrayInfo<'r> {
    /// The array's index in the array table.
    pub fn id(&self) -> ArrayId {
        self.id
    }
    /// The element type.
    pub fn dtype(&self) -> &'r DType {
        &self.entry.dtype
    }
    /// Dimensions, outermost first; empty for a 0-d array.
    pub fn shape(&self) -> &'r [u64] {
        self.shape
    }
    /// Memory order of the logical bytes.
    pub fn order(&self) -> Order {
        self.entry.order
    }
    /// How the bytes are stored: raw, or zstd blocks.
    pub fn codec(&self) -> Codec {
        self.entry.codec
    }
    /// The transform applied to each block before compression ([`Filter::None`] when raw).
    pub fn filter(&self) -> Filter {
        self.entry.filter
    }
    /// Uncompressed bytes per block (0 for raw arrays).
    pub fn block_size(&self) -> u64 {
        self.entry.block_size
    }
    /// Logical size: elements x itemsize.
    pub fn nbytes(&self) -> u64 {
        self.entry.nbytes
    }
    /// Bytes the array occupies in the file, padding excluded.
    pub fn stored_bytes(&self) -> u64 {
        self.extents.iter().map(|e| e.stored_length).sum()
    }
    /// Number of elements.
    pub fn len(&self) -> u64 {
        self.shape.iter().product()
    }
    /// True when some dimension is 0 (a 0-d array has one element).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The stored extents: one for a raw array, one per block for a compressed one.
    pub fn extents(&self) -> &'r [StoredExtent] {
        self.extents
    }
    /// True if the array is stored raw, so its bytes can be borrowed from the file.
    pub fn is_raw(&self) -> bool {
        self.entry.codec == Codec::None
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
    fn zeroed(len: usize) -> Self {
        AlignedBytes {
            words: vec![0u64; len.div_ceil(8)],
            len,
        }
    }

    fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }

    /// Reads `source` to its end straight into aligned storage, doubling it as needed (no
    /// second copy of the whole input).
    fn read_all(source: &mut impl Read) -> std::io::Result<Self> {
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

impl<'a> Reader<&'a [u8]> {
    /// Validates `bytes` and reads from them without copying.
    pub fn from_bytes(bytes: &'a [u8], options: ReadOptions) -> Result<Self> {
        Reader::from_storage(bytes, options)
    }
}

impl Reader<AlignedBytes> {
    /// Reads the whole file with plain reads and validates it. Since every byte is then in
    /// memory anyway, every CRC is checked here, whatever `options.verify` says.
    pub fn open(path: impl AsRef<Path>, options: ReadOptions) -> Result<Self> {
        streamed::open_file(path.as_ref(), options)
    }

    /// Reads everything from `source` and validates it, checking every CRC.
    pub fn from_reader(mut source: impl Read, options: ReadOptions) -> Result<Self> {
        let bytes = AlignedBytes::read_all(&mut source).map_err(|e| Error::io(None, e))?;
        Reader::from_storage(
            bytes,
            ReadOptions {
                verify: Verify::OnOpen,
                ..options
            },
        )
    }
}

impl<S: AsRef<[u8]>> Reader<S> {
    /// Validates the file held by `storage` (any owner of bytes: a `Vec`, an `Mmap`, ...).
    pub fn from_storage(storage: S, options: ReadOptions) -> Result<Self> {
        let structure = parse_structure(storage.as_ref(), &options.limits)?;
        Reader::from_structure(storage, structure, options)
    }

    /// Finishes opening once the header, trailer and metadata are parsed: the layout walk, then
    /// the verification policy.
    fn from_structure(storage: S, structure: Structure, options: ReadOptions) -> Result<Self> {
        let Structure {
            header,
            trailer,
            metadata,
        } = structure;
        layout::check_layout(
            storage.as_ref(),
            u64::from(header.alignment),
            &metadata.arrays,
            &metadata.extents,
            trailer.metadata_offset,
        )?;
        let verified = (0..metadata.arrays.len())
            .map(|_| AtomicBool::new(false))
            .collect();
        let reader = Reader {
            storage,
            header,
            trailer,
            graph: metadata.graph,
            arrays: metadata.arrays,
            dims: metadata.dims,
            extents: metadata.extents,
            options,
            verified,
        };
        if reader.options.verify == Verify::OnOpen {
            reader.verify_checksums()?;
        }
        Ok(reader)
    }

    /// The whole file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.storage.as_ref()
    }

    /// The storage, e.g. to keep a mapping alive elsewhere.
    pub fn into_storage(self) -> S {
        self.storage
    }

    /// The options this reader was opened with.
    pub fn options(&self) -> &ReadOptions {
        &self.options
    }

    /// The file header as read (validated: magic, version, features, alignment, CRC).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The trailer as read: where the metadata section lies, and its CRC.
    pub fn trailer(&self) -> &Trailer {
        &self.trailer
    }

    /// The object graph, validated at open (every index in range).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The root node of the graph.
    pub fn root(&self) -> NodeId {
        self.graph.root().unwrap_or_default()
    }

    /// Entries in the array table.
    pub fn array_count(&self) -> usize {
        self.arrays.len()
    }

    /// Every array's table entry, in table (and file) order.
    pub fn arrays(&self) -> impl ExactSizeIterator<Item = ArrayInfo<'_>> + '_ {
        (0..self.arrays.len()).map(|i| self.info_unchecked(i))
    }

    fn info_unchecked(&self, index: usize) -> ArrayInfo<'_> {
        let entry = &self.arrays[index];
        ArrayInfo {
            id: ArrayId(index as u32),
            entry,
            shape: &self.dims[entry.shape.clone()],
            extents: &self.extents[entry.extents.clone()],
        }
    }

    /// The table entry of array `id`.
    pub fn array_info(&self, id: ArrayId) -> Result<ArrayInfo<'_>> {
        if id.index() >= self.arrays.len() {
            return Err(Error::invalid_index(
                None,
                format!("array {} is not in this file", id.0),
            ));
        }
        Ok(self.info_unchecked(id.index()))
    }

    /// The bytes of a raw array, borrowed from the file (CRC checked as [`Verify`] says).
    /// Fails with `NotZeroCopy` if the array is compressed.
    pub fn zero_copy_bytes(&self, id: ArrayId) -> Result<&[u8]> {
        let info = self.array_info(id)?;
        if !info.is_raw() {
            return Err(Error::not_zero_copy(
                info.entry.entry_offset,
                "the array is compressed",
            ));
        }
        self.ensure_verified(id)?;
        match info.extents.first() {
            Some(extent) => stored_bytes(self.bytes(), extent),
            None => Ok(&[]),
        }
    }

    /// The logical bytes of array `id`: borrowed if raw, decoded if compressed.
    pub fn read_bytes(&self, id: ArrayId) -> Result<Cow<'_, [u8]>> {
        let info = self.array_info(id)?;
        if info.is_raw() {
            return self.zero_copy_bytes(id).map(Cow::Borrowed);
        }
        let mut out = self.allocate_decoded(&info, info.nbytes())?;
        self.decode_into(&info, 0, &mut out)?;
        Ok(Cow::Owned(out))
    }

    /// The length of the buffer [`Reader::read_into`] needs for array `id`: its logical size,
    /// once rule R57 allows it (at most [`Limits::max_decoded_bytes`], else `LimitExceeded`).
    /// Call it before allocating that buffer.
    pub fn materialized_len(&self, id: ArrayId) -> Result<usize> {
        let info = self.array_info(id)?;
        self.allocate_check(&info, info.nbytes())
    }

    /// Writes array `id`'s logical bytes into `out`, which must be exactly
    /// [`ArrayInfo::nbytes`] long: a raw extent is copied, compressed blocks are decoded
    /// straight into place, on all cores. Like every copy into memory (spec section 10), it checks
    /// the CRCs whatever the [`Verify`] policy: a raw extent's while it is being copied.
    pub fn read_into(&self, id: ArrayId, out: &mut [u8]) -> Result<()> {
        let info = self.array_info(id)?;
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
        if !info.is_raw() {
            return self.decode_into(&info, 0, out);
        }
        let Some(extent) = info.extents.first() else {
            return Ok(());
        };
        let stored = stored_bytes(self.bytes(), extent)?;
        if stored.len() != out.len() {
            return Err(Error::length_mismatch(
                extent.offset,
                "raw extent length is not nbytes",
            ));
        }
        let verified = &self.verified[id.index()];
        if verified.load(Ordering::Acquire) {
            // Already checked in this reader (by `verify_array`, perhaps on another thread).
            out.copy_from_slice(stored);
            return Ok(());
        }
        if !checksum_matches(extent.crc32, copy_with_crc32(stored, out)) {
            return Err(Error::checksum(extent.offset, "array data CRC-32 does not match"));
        }
        verified.store(true, Ordering::Release);
        Ok(())
    }

    /// Checks the CRCs of array `id`'s stored extents now, whatever the [`Verify`] policy, unless
    /// this reader has already checked them. A later [`Reader::read_into`] of a checked raw
    /// array is then a plain copy: a loader can check arrays on one thread while another copies
    /// them.
    pub fn verify_array(&self, id: ArrayId) -> Result<()> {
        let info = self.array_info(id)?;
        let verified = &self.verified[id.index()];
        if !verified.load(Ordering::Acquire) {
            self.check_extents(&info)?;
            verified.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Whether this reader has checked the CRCs of array `id` (false for an unknown id).
    pub fn is_verified(&self, id: ArrayId) -> bool {
        self.verified
            .get(id.index())
            .is_some_and(|verified| verified.load(Ordering::Acquire))
    }

    /// Bytes `range` of array `id`'s logical bytes, decoding only the blocks the range touches.
    pub fn read_byte_range(&self, id: ArrayId, range: Range<u64>) -> Result<Cow<'_, [u8]>> {
        let info = self.array_info(id)?;
        if range.start > range.end || range.end > info.nbytes() {
            return Err(Error::out_of_bounds(
                None,
                format!("range {range:?} outside the array's {} bytes", info.nbytes()),
            ));
        }
        if info.is_raw() {
            let all = self.zero_copy_bytes(id)?;
            return Ok(Cow::Borrowed(&all[range.start as usize..range.end as usize]));
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
        let info = self.array_info(id)?;
        if info.is_raw() {
            return sink(self.zero_copy_bytes(id)?);
        }
        let block_size = info.block_size();
        let mut scratch = Vec::new();
        for (i, extent) in info.extents.iter().enumerate() {
            let start = i as u64 * block_size;
            let len = self.allocate_check(&info, block_size.min(info.nbytes() - start))?;
            try_resize(&mut scratch, len, extent.offset)?;
            decode_block(
                stored_bytes(self.bytes(), extent)?,
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
    /// array's dtype, and with `NotZeroCopy` if the array is compressed or its bytes are not
    /// aligned for `T` in memory.
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

    /// Array `id` as `T`: a borrowed view when the array is raw and aligned, else a decoded copy.
    pub fn read<T: Element>(&self, id: ArrayId) -> Result<CowArray<'_, T, IxDyn>> {
        let info = self.array_info(id)?;
        check_element::<T>(&info)?;
        if info.is_raw() {
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

    /// Checks every CRC and decodes every compressed block (keeping nothing), so afterwards
    /// every validation rule of the spec has been applied to the whole file.
    pub fn verify(&self) -> Result<()> {
        self.verify_checksums()?;
        for info in self.arrays().filter(|a| !a.is_raw()) {
            self.for_each_chunk(info.id(), |_| Ok(()))?;
        }
        Ok(())
    }

    /// Checks the CRC of every stored extent, in parallel, and reports the first mismatch in
    /// file order.
    pub fn verify_checksums(&self) -> Result<()> {
        let file = self.bytes();
        let failed = |extent: &StoredExtent| {
            let ok = stored_bytes(file, extent).map(|b| checksum_matches(extent.crc32, crc32_parallel(b)));
            (!matches!(ok, Ok(true))).then_some(extent.offset)
        };
        let total: u64 = self.extents.iter().map(|e| e.stored_length).sum();
        let failures: Vec<u64> = if total <= PARALLEL_MIN_BYTES {
            self.extents.iter().filter_map(failed).collect()
        } else {
            self.extents.par_iter().filter_map(failed).collect()
        };
        if let Some(offset) = failures.into_iter().min() {
            return Err(Error::checksum(offset, "array data CRC-32 does not match"));
        }
        self.verified
            .iter()
            .for_each(|v| v.store(true, Ordering::Relaxed));
        Ok(())
    }

    fn ensure_verified(&self, id: ArrayId) -> Result<()> {
        if self.options.verify == Verify::Explicit {
            return Ok(());
        }
        self.verify_array(id)
    }

    /// Records CRC results computed while the file streamed in (`None`: not computed, check
    /// now), and fails at the first mismatch in file order.
    fn apply_checks(&mut self, checks: Vec<Option<bool>>) -> Result<()> {
        let file = self.storage.as_ref();
        for (extent, check) in self.extents.iter().zip(checks) {
            let ok = match check {
                Some(ok) => ok,
                None => checksum_matches(extent.crc32, crc32_parallel(stored_bytes(file, extent)?)),
            };
            if !ok {
                return Err(Error::checksum(extent.offset, "array data CRC-32 does not match"));
            }
        }
        self.verified
            .iter()
            .for_each(|v| v.store(true, Ordering::Relaxed));
        self.options.verify = Verify::OnOpen;
        Ok(())
    }

    /// Checks the CRC of every extent of one array, now.
    fn check_extents(&self, info: &ArrayInfo<'_>) -> Result<()> {
        for extent in info.extents {
            let bytes = stored_bytes(self.bytes(), extent)?;
            if !checksum_matches(extent.crc32, crc32_parallel(bytes)) {
                return Err(Error::checksum(extent.offset, "array data CRC-32 does not match"));
            }
        }
        Ok(())
    }

    fn allocate_check(&self, info: &ArrayInfo<'_>, len: u64) -> Result<usize> {
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
        decode_blocks(
            self.bytes(),
            blocks,
            block_size,
            out,
            info.filter(),
            info.dtype().itemsize() as usize,
        )
    }
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

/// Everything parsed from the header, trailer and metadata section, before the layout walk.
pub(crate) struct Structure {
    header: Header,
    trailer: Trailer,
    metadata: metadata::Metadata,
}

impl Structure {
    pub(crate) fn extents(&self) -> &[StoredExtent] {
        &self.metadata.extents
    }
}

/// Rules R1 to R52: reads only the header, the trailer and the metadata section of `file`.
pub(crate) fn parse_structure(file: &[u8], limits: &Limits) -> Result<Structure> {
    let header = check_header(file)?;
    let trailer = check_trailer(file, limits)?;
    let start = trailer.metadata_offset as usize;
    let metadata_bytes = &file[start..start + trailer.metadata_length as usize];
    let metadata = metadata::parse(
        metadata_bytes,
        trailer.metadata_offset,
        header.version_minor,
        limits,
    )?;
    Ok(Structure {
        header,
        trailer,
        metadata,
    })
}

fn check_header(file: &[u8]) -> Result<Header> {
    if (file.len() as u64) < HEADER_LEN + TRAILER_LEN {
        return Err(Error::truncated(
            file.len() as u64,
            format!("{} bytes is shorter than a header and a trailer", file.len()),
        ));
    }
    let header: Header = ByteCursor::new(&file[..HEADER_LEN as usize], 0).structure(HEADER_LEN, "header")?;
    if header.magic != MAGIC {
        return Err(Error::bad_magic(0, "not an Amber file (header magic)"));
    }
    if header.version_major != VERSION_MAJOR {
        return Err(Error::unsupported_version(
            8,
            format!(
                "version {}.{}; this reader implements major {VERSION_MAJOR}",
                header.version_major, header.version_minor
            ),
        ));
    }
    if !checksum_matches(header.header_crc32, crc32(&file[..60])) {
        return Err(Error::checksum(60, "header CRC-32 does not match"));
    }
    let unknown = header.required_features & !KNOWN_REQUIRED_FEATURES;
    if unknown != 0 {
        return Err(Error::unsupported_feature(
            16,
            format!("required feature bits {unknown:#x} are unknown to this reader"),
        ));
    }
    let a = header.alignment;
    if !a.is_power_of_two() || !(MIN_ALIGNMENT..=MAX_ALIGNMENT).contains(&a) {
        return Err(Error::invalid_header(
            12,
            format!("alignment {a} is not a power of two in 64..=2^24"),
        ));
    }
    if !is_newer_minor(header.version_minor) {
        if let Some(i) = header.reserved.iter().position(|&b| b != 0) {
            return Err(Error::invalid_header(
                32 + i as u64,
                "reserved header byte is not zero",
            ));
        }
    }
    Ok(header)
}

fn check_trailer(file: &[u8], limits: &Limits) -> Result<Trailer> {
    let len = file.len() as u64;
    let start = len - TRAILER_LEN;
    let trailer: Trailer =
        ByteCursor::new(&file[start as usize..], start).structure(TRAILER_LEN, "trailer")?;
    if trailer.magic != MAGIC {
        return Err(Error::bad_magic(
            len - 8,
            "no trailer magic at the end: the file is truncated or has trailing bytes",
        ));
    }
    if !checksum_matches(
        trailer.trailer_crc32,
        crc32(&file[start as usize..start as usize + 20]),
    ) {
        return Err(Error::checksum(start + 20, "trailer CRC-32 does not match"));
    }
    let end = trailer.metadata_offset.checked_add(trailer.metadata_length);
    if trailer.metadata_offset < HEADER_LEN || end.is_none_or(|end| end > start) {
        return Err(Error::out_of_bounds(
            start,
            "the metadata section lies outside the file",
        ));
    }
    if end != Some(start) {
        return Err(Error::invalid_layout(
            start,
            "bytes lie between the metadata section and the trailer",
        ));
    }
    if trailer.metadata_length > limits.max_metadata_bytes {
        return Err(Error::limit(
            start + 8,
            format!(
                "metadata is {} bytes; the limit is {}",
                trailer.metadata_length, limits.max_metadata_bytes
            ),
        ));
    }
    let metadata = &file[trailer.metadata_offset as usize..start as usize];
    if !checksum_matches(trailer.metadata_crc32, crc32(metadata)) {
        return Err(Error::checksum(
            trailer.metadata_offset,
            "metadata CRC-32 does not match",
        ));
    }
    Ok(trailer)
}
