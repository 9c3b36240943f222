//! Rules R8 to R13: the fixed trailer, then the metadata section's CRC before any byte of it is
//! parsed, in the order spec section 5 gives.

use super::cursor::ByteCursor;
use crate::error::{Error, Result};
use crate::format::trailer::{self, Trailer, METADATA_LENGTH_OFFSET, METADATA_OFFSET_OFFSET, TRAILER_LEN};
use crate::format::{checksum_matches, crc32, HEADER_LEN, MAGIC};
use crate::limits::Limits;

/// R8 to R12 on the trailer's [`TRAILER_LEN`] bytes, the last of a file of `file_len` bytes.
pub(super) fn check_trailer(bytes: &[u8], file_len: u64, limits: &Limits) -> Result<Trailer> {
    let start = file_len - TRAILER_LEN;
    let trailer: Trailer = ByteCursor::new(bytes, start).structure(TRAILER_LEN, "trailer")?;
    if trailer.magic != MAGIC {
        return Err(Error::bad_magic(
            start + trailer::MAGIC_OFFSET,
            "no trailer magic at the end: the file is truncated or has trailing bytes",
        ));
    }
    if !checksum_matches(trailer.trailer_crc32, crc32(&bytes[trailer::CRC_COVERS])) {
        return Err(Error::checksum(
            start + trailer::CRC_OFFSET,
            "trailer CRC-32 does not match",
        ));
    }
    let end = trailer.metadata_offset.checked_add(trailer.metadata_length);
    if trailer.metadata_offset < HEADER_LEN || end.is_none_or(|end| end > start) {
        return Err(Error::out_of_bounds(
            start + METADATA_OFFSET_OFFSET,
            "the metadata section lies outside the file",
        ));
    }
    if end != Some(start) {
        return Err(Error::invalid_layout(
            start + METADATA_OFFSET_OFFSET,
            "bytes lie between the metadata section and the trailer",
        ));
    }
    let limit = limits.metadata_limit();
    if trailer.metadata_length > limit {
        return Err(Error::limit(
            start + METADATA_LENGTH_OFFSET,
            format!(
                "metadata is {} bytes; the limit is {limit}",
                trailer.metadata_length
            ),
        ));
    }
    Ok(trailer)
}

/// R13: the metadata section's bytes match the trailer's CRC.
pub(super) fn check_metadata_crc(trailer: &Trailer, metadata: &[u8]) -> Result<()> {
    if !checksum_matches(trailer.metadata_crc32, crc32(metadata)) {
        return Err(Error::checksum(
            trailer.metadata_offset,
            "metadata CRC-32 does not match",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// The trailer (spec 5) of a file whose metadata, `metadata_length` bytes, runs from the
    /// header to it; and that file's length.
    fn trailer_for(metadata_length: u64) -> (Vec<u8>, u64) {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&HEADER_LEN.to_le_bytes());
        bytes.extend_from_slice(&metadata_length.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        let crc = crc32(&bytes[trailer::CRC_COVERS]);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes.extend_from_slice(&MAGIC);
        (bytes, HEADER_LEN + metadata_length + TRAILER_LEN)
    }

    #[test]
    fn metadata_past_4_gib_is_over_the_limit_even_when_the_limit_is_higher() {
        let limits = Limits {
            max_metadata_bytes: u64::MAX,
            ..Limits::default()
        };
        let (bytes, file_len) = trailer_for(u64::from(u32::MAX));
        assert!(check_trailer(&bytes, file_len, &limits).is_ok());
        let (bytes, file_len) = trailer_for(u64::from(u32::MAX) + 1);
        let error = check_trailer(&bytes, file_len, &limits).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::LimitExceeded);
        assert_eq!(
            error.offset(),
            Some(file_len - TRAILER_LEN + METADATA_LENGTH_OFFSET)
        );
    }
}
