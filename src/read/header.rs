//! Rules R1 to R7: the file's length, then the fixed header, in the order spec section 3 gives.

use super::cursor::ByteCursor;
use crate::error::{Error, Result};
use crate::format::header::{
    self, Header, ALIGNMENT_OFFSET, FEATURES_OFFSET, HEADER_LEN, MAGIC, MAGIC_OFFSET, RESERVED_OFFSET,
    VERSION_OFFSET,
};
use crate::format::{
    checksum_matches, crc32, is_newer_minor, KNOWN_REQUIRED_FEATURES, TRAILER_LEN, VERSION_MAJOR,
};
use crate::limits::{MAX_ALIGNMENT, MIN_ALIGNMENT};

/// R1: a file too short for a header and a trailer is Truncated before anything else is examined.
pub(super) fn check_file_len(len: u64) -> Result<()> {
    if len < HEADER_LEN + TRAILER_LEN {
        return Err(Error::truncated(
            len,
            format!("{len} bytes is shorter than a header and a trailer"),
        ));
    }
    Ok(())
}

/// R2 to R7 on the header's [`HEADER_LEN`] bytes.
pub(super) fn check_header(bytes: &[u8]) -> Result<Header> {
    let header: Header = ByteCursor::new(bytes, 0).structure(HEADER_LEN, "header")?;
    if header.magic != MAGIC {
        return Err(Error::bad_magic(MAGIC_OFFSET, "not an Amber file (header magic)"));
    }
    if header.version_major != VERSION_MAJOR {
        return Err(Error::unsupported_version(
            VERSION_OFFSET,
            format!(
                "version {}.{}; this reader implements major {VERSION_MAJOR}",
                header.version_major, header.version_minor
            ),
        ));
    }
    if !checksum_matches(header.header_crc32, crc32(&bytes[header::CRC_COVERS])) {
        return Err(Error::checksum(
            header::CRC_OFFSET,
            "header CRC-32 does not match",
        ));
    }
    let unknown = header.required_features & !KNOWN_REQUIRED_FEATURES;
    if unknown != 0 {
        return Err(Error::unsupported_feature(
            FEATURES_OFFSET,
            format!("required feature bits {unknown:#x} are unknown to this reader"),
        ));
    }
    let a = header.alignment;
    if !a.is_power_of_two() || !(MIN_ALIGNMENT..=MAX_ALIGNMENT).contains(&a) {
        return Err(Error::invalid_header(
            ALIGNMENT_OFFSET,
            format!("alignment {a} is not a power of two in 64..=2^24"),
        ));
    }
    if !is_newer_minor(header.version_minor) {
        if let Some(i) = header.reserved.iter().position(|&b| b != 0) {
            return Err(Error::invalid_header(
                RESERVED_OFFSET + i as u64,
                "reserved header byte is not zero",
            ));
        }
    }
    Ok(header)
}
