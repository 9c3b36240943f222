//! Reading: bytes in, a validated file out, then arrays as zero-copy views or decoded copies.
//!
//! # API structure
//!
//! Two layers, as in object and gimli, over one [`ByteSource`] trait that says where the bytes
//! come from (memory, a mapping, a plain file read with `pread`; an object store next):
//!
//! - **[`Metadata`]**: the header, the trailer, the object graph and the array table, validated
//!   from those sections alone (rules R1 to R54 and R56). [`Metadata::from_source`] fetches the
//!   trailer, the header and the metadata section and no byte of the data region, so it is what a
//!   tool that only lists a remote file's contents needs.
//! - **[`Reader`]**: a [`Metadata`] plus its source, and everything that needs data bytes: the
//!   padding rule R55, then the CRCs and the decoding rules R57 to R60 as arrays are read. Start
//!   here.
//!
//! There are several ways to get a [`Reader`], all applying the same rules; the constructor, not
//! the source, decides *when* the padding rule R55 runs (spec 9.6):
//! - whole-file readers check every padding region at open, in the layout walk:
//!   - [`Reader::from_bytes`] over any `&[u8]` you already hold (and [`Reader::from_storage`]
//!     over any owner of bytes): safe and zero-copy;
//!   - [`Reader::open`], which reads the whole file with plain reads (for filesystems where mmap
//!     fails) and checks every CRC while the bytes are in memory; [`Reader::from_reader`] does
//!     the same from any `io::Read`;
//! - partial readers read only the header, the trailer and the metadata at open, and check the
//!   padding before an array's extents when that array's data is first handed out (or all of it
//!   in [`Reader::verify`]), so opening a large file reads almost nothing of it:
//!   - the `unsafe` [`Reader::open_mmap`], which maps the file (see its safety contract);
//!   - [`Reader::from_source`] over any [`ByteSource`], e.g. a [`FileSource`] that reads only
//!     what is asked for; [`Reader::from_metadata`] when the metadata was read already. Views
//!     need the file in memory ([`ByteSource::in_memory`]); over other sources arrays are copied
//!     (and every copy is checked against its CRC).
//!
//! Opening checks everything structural before it hands out anything: magic, version and
//! features, the header, trailer and metadata CRCs, every count, index and limit, and the layout
//! walk's bounds and order that make the data region exactly the arrays' extents. Array CRCs are
//! checked as [`Verify`] says. A partial reader has therefore not yet ruled out non-zero padding
//! it never read; [`Reader::verify`] does.
//!
//! Then: [`Reader::graph`] for the object graph, [`Reader::array_info`] for an array's dtype,
//! shape and storage, and for its data:
//! - [`Reader::view`]: a typed zero-copy `ArrayView`, or an error if that is impossible;
//! - [`Reader::read`]: a typed `CowArray`, borrowed when possible, decoded otherwise;
//! - [`Reader::read_bytes`] / [`Reader::zero_copy_bytes`]: raw logical bytes, for dtypes with no
//!   Rust element type (records, strings, datetimes, float8);
//! - [`Reader::read_byte_range`]: part of an array, decoding only the blocks it touches.
//!
//! The files mirror `write/`: `header`, `trailer`, `metadata/` (one file per table), `layout`,
//! `blocks` (zstd), `verify` (the CRC policy), `access` (views, copies, decodes), `mmap` (the one
//! unsafe corner), `streamed` (the plain-read whole-file path) and `source`.
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

mod access;
mod blocks;
mod cursor;
mod header;
mod layout;
mod metadata;
// The library's one unsafe corner: mapping a file (see `Reader::open_mmap`).
#[allow(unsafe_code)]
mod mmap;
// Checks a stream of the whole file as it arrives: only a remote whole-object verify needs it.
#[cfg(feature = "remote")]
mod ordered;
mod source;
mod streamed;
#[cfg(test)]
mod tests;
mod trailer;
mod verify;

use std::io::Read;
use std::path::Path;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::format::{Codec, Filter, Header, Order, StoredExtent, Trailer};
use crate::graph::{ArrayId, Graph, NodeId};
use crate::limits::Limits;
pub use metadata::{ArrayEntry, Metadata};
#[cfg(feature = "remote")]
pub(crate) use ordered::InOrderVerify;
pub use source::{AlignedBytes, ByteSource, FileSource};
use verify::Padding;

/// When the CRCs of array data are checked. Header, trailer and metadata CRCs are always
/// checked at open, and compressed blocks always before they are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// Check every extent while opening (and, in a partial reader, every padding region).
    OnOpen,
    /// Check an array's extents the first time its data is accessed.
    #[default]
    OnFirstAccess,
    /// Only when the caller calls [`Reader::verify`], or copies or decodes the array (a copy is
    /// always checked).
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

/// A validated Amber file: its [`Metadata`] and the [`ByteSource`] `S` its data comes from. See
/// the [module docs](self).
pub struct Reader<S> {
    source: S,
    metadata: Metadata,
    options: ReadOptions,
    /// Per array: CRCs checked.
    verified: verify::ArrayFlags,
    /// Per array: R55 checked for the padding before its extents (spec 9.6).
    padding_checked: verify::ArrayFlags,
}

impl<S> std::fmt::Debug for Reader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("header", &self.metadata.header)
            .field("nodes", &self.metadata.graph.len())
            .field("arrays", &self.metadata.arrays.len())
            .finish_non_exhaustive()
    }
}

/// LengthMismatch unless `source` is as long as the file `metadata` describes: the one check that
/// bytes from another handle belong to the file the metadata was read from.
fn check_same_length<T: ByteSource + ?Sized>(source: &T, metadata: &Metadata) -> Result<()> {
    let described = metadata.file_len();
    let len = source.file_len()?;
    if len != described {
        return Err(Error::length_mismatch(
            None,
            format!("the source holds {len} bytes but the metadata describes a {described}-byte file"),
        ));
    }
    Ok(())
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
    /// Validates the file held by `storage` (any owner of bytes: a `Vec`, an `Mmap`, ...) as a
    /// whole-file reader: rules R1 to R56 at open, the padding included (spec 9.2).
    pub fn from_storage(storage: S, options: ReadOptions) -> Result<Self> {
        let unwalked = metadata::parse(&storage, &options.limits)?;
        let metadata = layout::check_layout(unwalked, &storage)?;
        Reader::with_metadata(storage, metadata, options, Padding::AtOpen)
    }

    /// The whole file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.source.as_ref()
    }
}

impl<S: ByteSource> Reader<S> {
    /// Opens the file behind `source` as a partial reader (spec 9.6), whatever the source: at
    /// open it reads the trailer, the header and the metadata section and applies rules R1 to
    /// R54 and R56 (see [`Metadata::from_source`]). The padding before an array's extents (R55)
    /// is checked when that array's data is first handed out, and all of it by
    /// [`Reader::verify`], or at open with [`Verify::OnOpen`] (which checks the CRCs too).
    pub fn from_source(source: S, options: ReadOptions) -> Result<Self> {
        let metadata = Metadata::from_source(&source, &options.limits)?;
        Reader::from_metadata(source, metadata, options)
    }

    /// A partial reader, as [`Reader::from_source`] opens, for a file whose `metadata` was
    /// already read, perhaps through another handle to the same file: [`Reader::open_mmap`]
    /// reads it with positional reads and then maps the file. Fails with LengthMismatch if
    /// `source` is not as long as the file `metadata` describes.
    pub fn from_metadata(source: S, metadata: Metadata, options: ReadOptions) -> Result<Self> {
        check_same_length(&source, &metadata)?;
        Reader::with_metadata(source, metadata, options, Padding::OnFirstAccess)
    }

    /// The source the data is read from.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The source, e.g. to keep a mapping alive elsewhere.
    pub fn into_storage(self) -> S {
        self.source
    }

    /// The validated description of the file: header, trailer, graph and array table.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The options this reader was opened with.
    pub fn options(&self) -> &ReadOptions {
        &self.options
    }

    /// The file header as read (validated: magic, version, features, alignment, CRC).
    pub fn header(&self) -> &Header {
        self.metadata.header()
    }

    /// The trailer as read: where the metadata section lies, and its CRC.
    pub fn trailer(&self) -> &Trailer {
        self.metadata.trailer()
    }

    /// The object graph, validated at open (every index in range).
    pub fn graph(&self) -> &Graph {
        self.metadata.graph()
    }

    /// The root node of the graph.
    pub fn root(&self) -> NodeId {
        self.metadata.root()
    }

    /// Entries in the array table.
    pub fn array_count(&self) -> usize {
        self.metadata.array_count()
    }

    /// Every array's table entry, in table (and file) order.
    pub fn arrays(&self) -> impl ExactSizeIterator<Item = ArrayInfo<'_>> + '_ {
        self.metadata.arrays()
    }

    /// The table entry of array `id`.
    pub fn array_info(&self, id: ArrayId) -> Result<ArrayInfo<'_>> {
        self.metadata.array_info(id)
    }
}
