//! The fixed 64-byte header at offset 0 (spec section 3), and the offsets of its fields.

use std::ops::Range;

use binrw::{BinRead, BinWrite};

/// The 8-byte magic at the start of the header and at the end of the trailer, PNG-style: the high
/// bit catches 7-bit transfers, CR LF catches line-ending conversion, 0x1A stops DOS `type`.
pub const MAGIC: [u8; 8] = *b"\x89AMB\r\n\x1a\n";
/// Size of the fixed header.
pub const HEADER_LEN: u64 = 64;

/// Offset of `magic` (bytes 0..8).
pub const MAGIC_OFFSET: u64 = 0;
/// Offset of `version_major`; `version_minor` follows it.
pub const VERSION_OFFSET: u64 = 8;
/// Offset of `alignment`.
pub const ALIGNMENT_OFFSET: u64 = 12;
/// Offset of `required_features`; `optional_features` follows it.
pub const FEATURES_OFFSET: u64 = 16;
/// Offset of the 28 reserved bytes.
pub const RESERVED_OFFSET: u64 = 32;
/// Offset of `header_crc32`.
pub const CRC_OFFSET: u64 = 60;
/// The header bytes `header_crc32` covers: everything before it.
pub const CRC_COVERS: Range<usize> = 0..CRC_OFFSET as usize;

/// The fixed 64-byte header at offset 0.
#[derive(BinRead, BinWrite, Debug, Clone, Copy, PartialEq, Eq)]
#[brw(little)]
pub struct Header {
    /// [`MAGIC`], else BadMagic.
    pub magic: [u8; 8],
    /// [`VERSION_MAJOR`](super::VERSION_MAJOR), else UnsupportedVersion.
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

/// Rounds `value` up to a multiple of `alignment` (a power of two, as the header's alignment
/// field is); `None` on overflow.
pub fn align_up(value: u64, alignment: u64) -> Option<u64> {
    debug_assert!(alignment.is_power_of_two());
    Some(value.checked_add(alignment - 1)? & !(alignment - 1))
}
