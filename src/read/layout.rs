//! The layout walk: the data region must be exactly the arrays' extents, in table order, each
//! raw extent at the next multiple of the alignment and each compressed block right after the
//! previous extent, with only zero padding between. No bytes can hide, nothing can overlap.

use super::metadata::ArrayEntry;
use crate::error::{Error, Result};
use crate::format::{align_up, Codec, StoredExtent, HEADER_LEN};

pub(crate) fn check_layout(
    file: &[u8],
    alignment: u64,
    arrays: &[ArrayEntry],
    extents: &[StoredExtent],
    metadata_offset: u64,
) -> Result<()> {
    let mut cursor = HEADER_LEN;
    for array in arrays {
        for (i, extent) in extents[array.extents.clone()].iter().enumerate() {
            let record_offset = array.entry_offset + 8 + 8 * array.shape.len() as u64 + 12 + 20 * i as u64;
            let expected = match array.codec {
                Codec::None => align_up(cursor, alignment)
                    .ok_or_else(|| Error::out_of_bounds(record_offset, "extent offset overflows"))?,
                Codec::Zstd => cursor,
            };
            if extent.offset != expected {
                let why = if extent.offset < cursor {
                    "overlaps the previous extent or is out of order"
                } else if array.codec == Codec::None && extent.offset % alignment != 0 {
                    "is not aligned"
                } else {
                    "leaves a gap after the previous extent"
                };
                return Err(Error::invalid_layout(
                    record_offset,
                    format!("extent at {:#x} {why}; expected {expected:#x}", extent.offset),
                ));
            }
            let end = extent
                .offset
                .checked_add(extent.stored_length)
                .filter(|&end| end <= metadata_offset)
                .ok_or_else(|| {
                    Error::out_of_bounds(
                        record_offset,
                        "extent runs past the start of the metadata section",
                    )
                })?;
            check_zero_padding(file, cursor, expected)?;
            cursor = end;
        }
    }
    if cursor != metadata_offset {
        return Err(Error::invalid_layout(
            metadata_offset,
            format!("the data region ends at {cursor:#x} but the metadata starts at {metadata_offset:#x}"),
        ));
    }
    Ok(())
}

fn check_zero_padding(file: &[u8], start: u64, end: u64) -> Result<()> {
    let padding = file.get(start as usize..end as usize).unwrap_or_default();
    match padding.iter().position(|&b| b != 0) {
        Some(i) => Err(Error::non_zero_padding(
            start + i as u64,
            "a padding byte is not zero",
        )),
        None => Ok(()),
    }
}
