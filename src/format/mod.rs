//! The on-disk structures exactly as `spec/amber.md` draws them, and the registries of codes.
//!
//! This layer knows bytes, not meaning: it declares the fixed-size structures with binrw and the
//! code points of every registry. Checking that values make sense is the job of [`crate::read`];
//! producing them is the job of [`crate::write`].

use binrw::{BinRead, BinWrite};

/// The 8-byte magic at the start of the header and at the end of the trailer, PNG-style: the high
/// bit catches 7-bit transfers, CR LF catches line-ending conversion, 0x1A stops DOS `type`.
pub const MAGIC: [u8; 8] = *b"\x89AMB\r\n\x1a\n";
/// Major version written and read by this crate.
pub const VERSION_MAJOR: u16 = 1;
/// Minor version written by this crate; newer minors are still read.
pub const VERSION_MINOR: u16 = 0;
/// Required feature bits this reader implements (v1.0 defines none).
pub const KNOWN_REQUIRED_FEATURES: u64 = 0;
/// Size of the fixed header.
pub const HEADER_LEN: u64 = 64;
/// Size of the fixed trailer.
pub const TRAILER_LEN: u64 = 32;
/// Size of the metadata section's fixed header.
pub const METADATA_HEADER_LEN: u64 = 20;
/// Size of one stored extent record in the array table.
pub const EXTENT_RECORD_LEN: u64 = 20;
/// Marker for an absent optional node reference.
pub const NO_NODE: u32 = u32::MAX;

/// The fixed 64-byte header at offset 0.
#[derive(BinRead, BinWrite, Debug, Clone, Copy, PartialEq, Eq)]
#[brw(little)]
pub struct Header {
    /// [`MAGIC`], else BadMagic.
    pub magic: [u8; 8],
    /// [`VERSION_MAJOR`], else UnsupportedVersion.
    pub version_major: u16,
    /// Any value is read; a newer minor than this crate's relaxes the reserved-bytes rules.
    pub version_minor: u16,
    /// Where raw extents start: a power of two in 64..=2^24 bytes, else InvalidHeader.
    pub alignment: u32,
    /// Features a reader must implement; an unknown set bit is UnsupportedFeature.
    pub required_features: u64,
    /// Features a reader may ignore; unknown bits are ignored.
    pub optional_features: u64,
    /// All zero at this minor version, else InvalidHeader.
    pub reserved: [u8; 28],
    /// CRC-32 of header bytes 0..60.
    pub header_crc32: u32,
}

/// The fixed 32-byte trailer at the end of the file.
#[derive(BinRead, BinWrite, Debug, Clone, Copy, PartialEq, Eq)]
#[brw(little)]
pub struct Trailer {
    /// Absolute file offset of the metadata section.
    pub metadata_offset: u64,
    /// Bytes in the metadata section; it ends where the trailer starts.
    pub metadata_length: u64,
    /// CRC-32 of the whole metadata section.
    pub metadata_crc32: u32,
    /// CRC-32 of trailer bytes 0..20.
    pub trailer_crc32: u32,
    /// [`MAGIC`] again, so a truncated file is detected from its end; else BadMagic.
    pub magic: [u8; 8],
}

/// The fixed 20-byte start of the metadata section.
#[derive(BinRead, BinWrite, Debug, Clone, Copy, PartialEq, Eq)]
#[brw(little)]
pub struct MetadataHeader {
    /// Entries in the string table (at most `max_strings`).
    pub string_count: u32,
    /// Entries in the dtype table (at most `max_dtypes`).
    pub dtype_count: u32,
    /// Entries in the array table (at most `max_arrays`).
    pub array_count: u32,
    /// Entries in the node table (at most `max_nodes`; at least 1, for the root).
    pub node_count: u32,
    /// Index of the root node in the node table.
    pub root: u32,
}

/// One stored extent of an array: a raw array's bytes, or one compressed block.
#[derive(BinRead, BinWrite, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[brw(little)]
pub struct StoredExtent {
    /// Absolute file offset.
    pub offset: u64,
    /// Number of bytes stored in the file.
    pub stored_length: u64,
    /// CRC-32 of the stored bytes.
    pub crc32: u32,
}

/// The fixed part of an array-table entry, before the shape.
#[derive(BinRead, BinWrite, Debug, Clone, Copy, PartialEq, Eq)]
#[brw(little)]
pub struct ArrayEntryPrefix {
    /// Index into the dtype table.
    pub dtype: u32,
    /// [`Order`] code: 0 = C, 1 = Fortran.
    pub order: u8,
    /// [`Codec`] code: 0 = none, 1 = zstd.
    pub codec: u8,
    /// [`Filter`] code: 0 = none, 1 = byte shuffle (0 when the codec is none).
    pub filter: u8,
    /// Number of dimensions, at most 64; 0 for a scalar.
    pub ndim: u8,
}

/// Memory order of an array's elements.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Row-major (C) order: the last index varies fastest.
    #[default]
    C = 0,
    /// Column-major (Fortran) order: the first index varies fastest.
    F = 1,
}

impl Order {
    pub(crate) fn from_code(code: u8) -> Option<Order> {
        match code {
            0 => Some(Order::C),
            1 => Some(Order::F),
            _ => None,
        }
    }

    /// `"C"` or `"F"`, as in the canonical rendering.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::C => "C",
            Order::F => "F",
        }
    }
}

/// How an array's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// One contiguous, aligned extent: mappable zero-copy.
    None = 0,
    /// Independently compressed zstd blocks.
    Zstd = 1,
}

impl Codec {
    pub(crate) fn from_code(code: u8) -> Option<Codec> {
        match code {
            0 => Some(Codec::None),
            1 => Some(Codec::Zstd),
            _ => None,
        }
    }
}

/// A reversible transform applied to each block before compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Blocks are compressed as they are.
    None = 0,
    /// Groups bytes of equal significance across the elements of a block (as Blosc does).
    Shuffle = 1,
}

impl Filter {
    pub(crate) fn from_code(code: u8) -> Option<Filter> {
        match code {
            0 => Some(Filter::None),
            1 => Some(Filter::Shuffle),
            _ => None,
        }
    }
}

/// Node kind codes of the node table.
pub mod node_kind {
    /// Python `None`; no payload.
    pub const NONE: u8 = 0;
    /// `u8` 0 or 1.
    pub const BOOL: u8 = 1;
    /// `i64`.
    pub const INT: u8 = 2;
    /// `u32 len` and the minimal two's-complement bytes of an integer outside i64.
    pub const BIG_INT: u8 = 3;
    /// `f64`, any bit pattern.
    pub const FLOAT: u8 = 4;
    /// `f64` real, then `f64` imaginary part.
    pub const COMPLEX: u8 = 5;
    /// `u32` string index.
    pub const STR: u8 = 6;
    /// `u32 len`, then the bytes.
    pub const BYTES: u8 = 7;
    /// `u32 count`, then `count` node indices.
    pub const LIST: u8 = 8;
    /// As [`LIST`].
    pub const TUPLE: u8 = 9;
    /// As [`LIST`].
    pub const SET: u8 = 10;
    /// As [`LIST`].
    pub const FROZEN_SET: u8 = 11;
    /// `u32 count`, then `count` (key, value) node index pairs, order kept.
    pub const MAP: u8 = 12;
    /// `u32` array index.
    pub const ARRAY: u8 = 13;
    /// `u8 order`, `u8 ndim`, `u64[ndim]` shape, then one node index per element.
    pub const OBJECT_ARRAY: u8 = 14;
    /// `u32` type-name string, `u32` args node, `u32` state node ([`NO_NODE`](super::NO_NODE) when absent).
    pub const OBJECT: u8 = 15;
    /// `u32` string index of a qualified name (`module.attr`).
    pub const GLOBAL: u8 = 16;
}

/// CRC-32 as the spec defines it (the zlib polynomial), over one byte slice.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Rounds `value` up to a multiple of `alignment` (a power of two); `None` on overflow.
pub fn align_up(value: u64, alignment: u64) -> Option<u64> {
    debug_assert!(alignment.is_power_of_two());
    Some(value.checked_add(alignment - 1)? & !(alignment - 1))
}

/// CRC-32 of a large slice, computed on all cores in chunks and combined.
pub fn crc32_parallel(bytes: &[u8]) -> u32 {
    use rayon::prelude::*;
    const CHUNK: usize = 4 << 20;
    if bytes.len() as u64 <= PARALLEL_MIN_BYTES {
        return crc32(bytes);
    }
    bytes
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(chunk);
            hasher
        })
        .collect::<Vec<_>>()
        .into_iter()
        .reduce(|mut acc, next| {
            acc.combine(&next);
            acc
        })
        .map_or(0, |hasher| hasher.finalize())
}

/// Checksum work below this many bytes stays on the calling thread: handing it to the thread
/// pool (waking workers, blocking the caller until they finish) costs more than it saves.
pub(crate) const PARALLEL_MIN_BYTES: u64 = 8 << 20;

/// Whether a stored checksum matches. Under `cfg(fuzzing)` every checksum passes, so the fuzzer
/// reaches the structures behind them (as image-png does); the CRC path is tested separately.
pub(crate) fn checksum_matches(stored: u32, computed: u32) -> bool {
    cfg!(fuzzing) || stored == computed
}

/// True if `minor` is newer than the minor version this crate implements. A reader still reads
/// such a file, ignoring the reserved header bytes and any bytes after the node table.
pub fn is_newer_minor(minor: u16) -> bool {
    minor > VERSION_MINOR
}
