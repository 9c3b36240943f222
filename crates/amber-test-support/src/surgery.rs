//! Surgery on finished files: patching metadata bytes and recomputing the CRCs that cover them
//! (spec sections 3, 5, 6), so tests can build hostile files that pass every checksum.

use std::ops::Range;

use amberfile::format::{crc32, StoredExtent, MAGIC, TRAILER_LEN};

fn le_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

/// Absolute byte range of the metadata section, as the trailer states it.
pub fn metadata_range(file: &[u8]) -> Range<usize> {
    let trailer = file.len() - TRAILER_LEN as usize;
    let offset = le_u64(&file[trailer..]) as usize;
    let length = le_u64(&file[trailer + 8..]) as usize;
    offset..offset + length
}

/// The metadata section's bytes.
pub fn metadata(file: &[u8]) -> &[u8] {
    &file[metadata_range(file)]
}

/// Recomputes the metadata CRC and the trailer CRC (spec section 5) after the metadata bytes
/// were edited in place.
pub fn reseal(file: &mut [u8]) {
    let metadata = metadata_range(file);
    let metadata_crc = crc32(&file[metadata]);
    let trailer = file.len() - TRAILER_LEN as usize;
    file[trailer + 16..trailer + 20].copy_from_slice(&metadata_crc.to_le_bytes());
    let trailer_crc = crc32(&file[trailer..trailer + 20]);
    file[trailer + 20..trailer + 24].copy_from_slice(&trailer_crc.to_le_bytes());
}

/// Overwrites metadata bytes at `at` (relative to the start of the metadata section), then
/// reseals the file so every CRC matches again.
pub fn patch_metadata(file: &mut [u8], at: usize, bytes: &[u8]) {
    let start = metadata_range(file).start + at;
    file[start..start + bytes.len()].copy_from_slice(bytes);
    reseal(file);
}

/// Where `extent`'s 20-byte record (offset, stored length, CRC) starts in `metadata`.
pub fn extent_record_at(metadata: &[u8], extent: &StoredExtent) -> usize {
    let record = extent_record(extent.offset, extent.stored_length, extent.crc32);
    metadata
        .windows(record.len())
        .position(|w| w == record.as_slice())
        .expect("the extent record is in the array table")
}

/// An extent record's bytes (spec section 6.3).
pub fn extent_record(offset: u64, stored_length: u64, crc32: u32) -> Vec<u8> {
    let mut record = Vec::with_capacity(20);
    record.extend_from_slice(&offset.to_le_bytes());
    record.extend_from_slice(&stored_length.to_le_bytes());
    record.extend_from_slice(&crc32.to_le_bytes());
    record
}

/// Replaces a stored extent's bytes-on-disk CRC in the array table with the CRC of its current
/// stored bytes (after a test changed them), and reseals the file: the result is a file whose
/// every checksum matches but whose data differs from what the writer wrote.
pub fn recompute_extent_crc(file: &mut [u8], extent: &StoredExtent) {
    let at = extent_record_at(metadata(file), extent);
    let start = extent.offset as usize;
    let new_crc = crc32(&file[start..start + extent.stored_length as usize]);
    patch_metadata(file, at + 16, &new_crc.to_le_bytes());
}

/// `header_and_data` followed by `metadata` and a trailer whose offsets and CRCs match.
pub fn seal_metadata(header_and_data: &[u8], metadata: &[u8]) -> Vec<u8> {
    let offset = header_and_data.len() as u64;
    let mut out = header_and_data.to_vec();
    out.extend_from_slice(metadata);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    out.extend_from_slice(&[0; 8]); // both CRCs, filled in by `reseal`
    out.extend_from_slice(&MAGIC);
    reseal(&mut out);
    out
}

/// The file with its metadata section replaced by `metadata` (any length) and a new trailer
/// whose offsets and CRCs match: the data region and header are kept as they are.
pub fn replace_metadata(file: &[u8], metadata: &[u8]) -> Vec<u8> {
    seal_metadata(&file[..metadata_range(file).start], metadata)
}
