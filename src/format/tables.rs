//! The metadata section's fixed structures (spec section 6) and where each field sits: the
//! metadata header, dtype entries and record fields, array entries and their extent records,
//! node entries. Offsets are relative to the start of the structure they name.

use binrw::{BinRead, BinWrite};

/// Size of one dimension of a shape (a `u64`).
pub const DIM_LEN: u64 = 8;
/// Size of one node index (a `u32`).
pub const NODE_INDEX_LEN: u64 = 4;
/// Marker for an absent optional node reference.
pub const NO_NODE: u32 = u32::MAX;

/// Size of the metadata section's fixed header.
pub const METADATA_HEADER_LEN: u64 = 20;
/// Offset of `root` in the metadata header.
pub const METADATA_ROOT_OFFSET: u64 = 16;

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

/// Smallest string-table entry: its `u32` length and no bytes.
pub const STRING_ENTRY_MIN_LEN: u64 = 4;

/// Smallest dtype-table entry: a scalar's code byte.
pub const DTYPE_ENTRY_MIN_LEN: u64 = 1;
/// Offset of the payload after a dtype entry's code byte (a size, a time unit, a record's
/// itemsize).
pub const DTYPE_PAYLOAD_OFFSET: u64 = 1;
/// Smallest record field: name, offset, dtype and ndim, with no subarray shape.
pub const FIELD_MIN_LEN: u64 = 13;
/// Offset of a record field's `offset`.
pub const FIELD_OFFSET_OFFSET: u64 = 4;
/// Offset of a record field's `dtype`.
pub const FIELD_DTYPE_OFFSET: u64 = 8;
/// Offset of a record field's `ndim`; the shape follows it.
pub const FIELD_NDIM_OFFSET: u64 = 12;

/// Smallest array-table entry: the prefix, a block size and an extent count, nothing else.
pub const ARRAY_ENTRY_MIN_LEN: u64 = 20;
/// Offset of an array entry's `dtype`.
pub const ARRAY_DTYPE_OFFSET: u64 = 0;
/// Offset of an array entry's `order`.
pub const ARRAY_ORDER_OFFSET: u64 = 4;
/// Offset of an array entry's `codec`.
pub const ARRAY_CODEC_OFFSET: u64 = 5;
/// Offset of an array entry's `filter`.
pub const ARRAY_FILTER_OFFSET: u64 = 6;
/// Offset of an array entry's `ndim`.
pub const ARRAY_NDIM_OFFSET: u64 = 7;
/// Offset of an array entry's shape, right after the [`ArrayEntryPrefix`].
pub const ARRAY_SHAPE_OFFSET: u64 = 8;

/// The fixed part of an array-table entry, before the shape.
#[derive(BinRead, BinWrite, Debug, Clone, Copy, PartialEq, Eq)]
#[brw(little)]
pub struct ArrayEntryPrefix {
    /// Index into the dtype table.
    pub dtype: u32,
    /// [`Order`](super::Order) code: 0 = C, 1 = Fortran.
    pub order: u8,
    /// [`Codec`](super::Codec) code: 0 = none, 1 = zstd.
    pub codec: u8,
    /// [`Filter`](super::Filter) code: 0 = none, 1 = byte shuffle (0 when the codec is none).
    pub filter: u8,
    /// Number of dimensions, at most 64; 0 for a scalar.
    pub ndim: u8,
}

/// File offset of the `block_size` of the array entry at `entry_offset` with `ndim` dimensions.
/// Offsets within the metadata section cannot overflow: the section is at most the file.
pub fn block_size_offset(entry_offset: u64, ndim: usize) -> u64 {
    entry_offset + ARRAY_SHAPE_OFFSET + DIM_LEN * ndim as u64
}

/// File offset of the `extent_count` of an array entry (see [`block_size_offset`]).
pub fn extent_count_offset(entry_offset: u64, ndim: usize) -> u64 {
    block_size_offset(entry_offset, ndim) + 8
}

/// File offset of extent record `index` of an array entry (see [`block_size_offset`]).
pub fn extent_record_offset(entry_offset: u64, ndim: usize, index: usize) -> u64 {
    extent_count_offset(entry_offset, ndim) + 4 + EXTENT_RECORD_LEN * index as u64
}

/// Size of one stored extent record in the array table.
pub const EXTENT_RECORD_LEN: u64 = 20;
/// Offset of an extent record's `stored_length`.
pub const EXTENT_STORED_LENGTH_OFFSET: u64 = 8;
/// Offset of an extent record's `crc32`.
pub const EXTENT_CRC_OFFSET: u64 = 16;

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

/// Smallest node-table entry: a kind byte with no payload.
pub const NODE_ENTRY_MIN_LEN: u64 = 1;
/// Offset of the payload after a node entry's kind byte.
pub const NODE_PAYLOAD_OFFSET: u64 = 1;
/// Offset of an object-array node's `ndim`, after its kind and order bytes.
pub const OBJECT_ARRAY_NDIM_OFFSET: u64 = 2;
/// Offset of an object-array node's shape.
pub const OBJECT_ARRAY_SHAPE_OFFSET: u64 = 3;
