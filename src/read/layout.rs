//! The layout walk (spec 4.2): the data region must be exactly the arrays' extents, in table
//! order, each raw extent at the next multiple of the alignment and each compressed block right
//! after the previous extent, with only zero padding between. No bytes can hide, nothing can
//! overlap.
//!
//! It comes in two parts. The structural part (R53, R54 per extent, R56 at the end) needs only
//! the metadata, so it belongs to layer 1 and [`Metadata`] always passed it. The padding check
//! (R55) needs data bytes, so it belongs to the readers, which read only the padding ranges.
//! Spec 9.2 orders the rules extent by extent, so a whole-file reader reports a padding fault
//! before a structural fault at a later extent: [`check_layout`] keeps that order. A partial
//! reader (spec 9.6) checks the padding of one array at a time, [`check_array_padding`], after
//! the whole structural walk.

use super::metadata::{Metadata, Unwalked};
use super::source::{fetch, ByteSource};
use crate::error::{Error, Result};
use crate::format::tables::extent_record_offset;
use crate::format::{align_up, Codec, HEADER_LEN};

/// A structural fault and how many extents (in file order) passed R53 and R54 before it.
struct StructuralFault {
    passed: usize,
    error: Error,
}

/// Layer 1: the structural part of the walk, for [`Metadata::from_source`].
pub(super) fn check_structure(unwalked: Unwalked) -> Result<Metadata> {
    let Unwalked(metadata) = unwalked;
    walk_structure(&metadata).map_err(|fault| fault.error)?;
    Ok(metadata)
}

/// The whole walk, R53 to R56 in the spec's order, reading the padding through `source`.
pub(super) fn check_layout<S: ByteSource + ?Sized>(unwalked: Unwalked, source: &S) -> Result<Metadata> {
    let Unwalked(metadata) = unwalked;
    let structure = walk_structure(&metadata);
    let passed = structure
        .as_ref()
        .map_or_else(|fault| fault.passed, |()| metadata.extents.len());
    // The padding before every extent that passed comes earlier in rule order than the fault.
    check_padding(source, &metadata, passed)?;
    structure.map_err(|fault| fault.error)?;
    Ok(metadata)
}

/// R53, R54 for every extent in order, then R56.
fn walk_structure(metadata: &Metadata) -> std::result::Result<(), StructuralFault> {
    let alignment = u64::from(metadata.header.alignment);
    let metadata_offset = metadata.trailer.metadata_offset;
    let mut cursor = HEADER_LEN;
    let mut passed = 0;
    for array in &metadata.arrays {
        let ndim = array.shape.len();
        for (i, extent) in metadata.extents[array.extents.clone()].iter().enumerate() {
            let fault = |error| StructuralFault { passed, error };
            let record_offset = extent_record_offset(array.entry_offset, ndim, i);
            let expected = match array.codec {
                Codec::None => align_up(cursor, alignment)
                    .ok_or_else(|| fault(Error::out_of_bounds(record_offset, "extent offset overflows")))?,
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
                return Err(fault(Error::invalid_layout(
                    record_offset,
                    format!("extent at {:#x} {why}; expected {expected:#x}", extent.offset),
                )));
            }
            cursor = extent
                .offset
                .checked_add(extent.stored_length)
                .filter(|&end| end <= metadata_offset)
                .ok_or_else(|| {
                    fault(Error::out_of_bounds(
                        record_offset,
                        "extent runs past the start of the metadata section",
                    ))
                })?;
            passed += 1;
        }
    }
    if cursor != metadata_offset {
        return Err(StructuralFault {
            passed,
            error: Error::invalid_layout(
                metadata_offset,
                format!(
                    "the data region ends at {cursor:#x} but the metadata starts at {metadata_offset:#x}"
                ),
            ),
        });
    }
    Ok(())
}

/// R55 for the first `count` extents, which passed R53 and R54: the bytes between the end of the
/// previous extent (or the header) and each extent are zero.
fn check_padding<S: ByteSource + ?Sized>(source: &S, metadata: &Metadata, count: usize) -> Result<()> {
    (0..count).try_for_each(|index| check_padding_before(source, metadata, index))
}

/// R55 for the padding before each extent of array `array` (a partial reader, spec 9.6), in
/// extent order. The metadata passed the structural walk, so every extent is in its place.
pub(super) fn check_array_padding<S: ByteSource + ?Sized>(
    source: &S,
    metadata: &Metadata,
    array: usize,
) -> Result<()> {
    metadata.arrays[array]
        .extents
        .clone()
        .try_for_each(|index| check_padding_before(source, metadata, index))
}

/// The padding `(offset, length)` before each extent of array `array`, where there is some.
pub(super) fn array_padding(metadata: &Metadata, array: usize) -> impl Iterator<Item = (u64, u64)> + '_ {
    metadata.arrays[array]
        .extents
        .clone()
        .filter_map(|index| padding_before(metadata, index))
}

/// The padding `(offset, length)` before extent `index` (file order), which passed R53 and R54;
/// `None` if the extent follows the previous one (or the header) directly.
fn padding_before(metadata: &Metadata, index: usize) -> Option<(u64, u64)> {
    let cursor = match index.checked_sub(1) {
        Some(previous) => {
            let previous = &metadata.extents[previous];
            previous.offset + previous.stored_length
        }
        None => HEADER_LEN,
    };
    let offset = metadata.extents[index].offset;
    (offset > cursor).then(|| (cursor, offset - cursor))
}

/// R55 for extent `index` (file order), which passed R53 and R54.
fn check_padding_before<S: ByteSource + ?Sized>(source: &S, metadata: &Metadata, index: usize) -> Result<()> {
    let Some((cursor, len)) = padding_before(metadata, index) else {
        return Ok(());
    };
    // Shorter than the alignment (at most 2^24), so fetching it whole is cheap.
    let padding = fetch(source, cursor, len)?;
    match padding.iter().position(|&b| b != 0) {
        Some(i) => Err(Error::non_zero_padding(
            cursor + i as u64,
            "a padding byte is not zero",
        )),
        None => Ok(()),
    }
}
