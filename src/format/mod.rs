//! The raw layer: the on-disk structures exactly as `spec/amber.md` draws them, where each field
//! sits, and the registries of codes.
//!
//! This layer knows bytes, not meaning. [`header`] and [`trailer`] hold the two fixed structures,
//! [`tables`] the metadata section's structures and the offsets of their fields (so no other
//! module computes `entry + 8 + 8 * ndim` by hand), [`registry`] every code point, and [`crc`]
//! the checksum helpers. Checking that values make sense is the job of [`crate::read`];
//! producing them is the job of [`crate::write`]. Everything is re-exported here, so
//! `crate::format::Header` and `crate::format::crc32` name the same items as their modules do.

pub mod crc;
pub mod header;
pub mod registry;
pub mod tables;
pub mod trailer;
pub(crate) mod zstd_frame;

pub(crate) use crc::{checksum_matches, copy_with_crc32, PARALLEL_MIN_BYTES};
pub use crc::{crc32, crc32_parallel};
pub use header::{align_up, Header, HEADER_LEN, MAGIC};
pub use registry::{
    is_newer_minor, node_kind, Codec, Filter, Order, KNOWN_REQUIRED_FEATURES, VERSION_MAJOR, VERSION_MINOR,
};
pub use tables::{
    ArrayEntryPrefix, MetadataHeader, StoredExtent, EXTENT_RECORD_LEN, METADATA_HEADER_LEN, NO_NODE,
};
pub use trailer::{Trailer, TRAILER_LEN};
