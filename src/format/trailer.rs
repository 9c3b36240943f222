//! The fixed 32-byte trailer at the end of the file (spec section 5), and the offsets of its
//! fields, relative to the trailer's start.

use std::ops::Range;

use binrw::{BinRead, BinWrite};

/// Size of the fixed trailer.
pub const TRAILER_LEN: u64 = 32;

/// Offset of `metadata_offset`.
pub const METADATA_OFFSET_OFFSET: u64 = 0;
/// Offset of `metadata_length`.
pub const METADATA_LENGTH_OFFSET: u64 = 8;
/// Offset of `metadata_crc32`.
pub const METADATA_CRC_OFFSET: u64 = 16;
/// Offset of `trailer_crc32`.
pub const CRC_OFFSET: u64 = 20;
/// The trailer bytes `trailer_crc32` covers: everything before it.
pub const CRC_COVERS: Range<usize> = 0..CRC_OFFSET as usize;
/// Offset of the closing magic, the file's last 8 bytes.
pub const MAGIC_OFFSET: u64 = 24;

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
    /// [`MAGIC`](super::MAGIC) again, so a truncated file is detected from its end; else BadMagic.
    pub magic: [u8; 8],
}
