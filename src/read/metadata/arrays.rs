//! The array table (rules R36 to R48): each entry's dtype, order, codec, filter, shape, block
//! size and extent records.

use std::ops::Range;

use super::super::cursor::ByteCursor;
use crate::dtype::{checked_nbytes, DType};
use crate::error::{Error, Result};
use crate::format::tables::{
    extent_count_offset, extent_record_offset, ARRAY_CODEC_OFFSET, ARRAY_DTYPE_OFFSET, ARRAY_ENTRY_MIN_LEN,
    ARRAY_FILTER_OFFSET, ARRAY_NDIM_OFFSET, ARRAY_ORDER_OFFSET, ARRAY_SHAPE_OFFSET, DIM_LEN,
    EXTENT_CRC_OFFSET, EXTENT_RECORD_LEN, EXTENT_STORED_LENGTH_OFFSET,
};
use crate::format::{ArrayEntryPrefix, Codec, Filter, Order, StoredExtent};
use crate::limits::{MAX_BLOCK_SIZE, MAX_NDIM};
use crate::read::cursor::{le_u32, le_u64};

/// One validated array-table entry.
#[derive(Debug, Clone)]
pub struct ArrayEntry {
    pub(crate) dtype: DType,
    pub(crate) order: Order,
    pub(crate) codec: Codec,
    pub(crate) filter: Filter,
    /// Range of this array's dimensions in the metadata's `dims`.
    pub(crate) shape: Range<usize>,
    pub(crate) block_size: u64,
    pub(crate) nbytes: u64,
    /// Range of this array's extents in the metadata's `extents`.
    pub(crate) extents: Range<usize>,
    /// File offset of this entry in the array table, for error messages.
    pub(crate) entry_offset: u64,
}

/// Every entry, every dimension end to end, and every extent, in table (and file) order.
pub(super) fn parse_arrays(
    r: &mut ByteCursor<'_>,
    count: u32,
    dtypes: &[DType],
) -> Result<(Vec<ArrayEntry>, Vec<u64>, Vec<StoredExtent>)> {
    r.ensure_backed(u64::from(count), ARRAY_ENTRY_MIN_LEN, "arrays")?;
    let mut arrays = Vec::with_capacity(count as usize);
    let mut all_dims = Vec::with_capacity(count as usize);
    let mut extents = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let entry_offset = r.offset();
        let prefix = ArrayEntryPrefix {
            dtype: r.u32("array dtype")?,
            order: r.u8("array order")?,
            codec: r.u8("array codec")?,
            filter: r.u8("array filter")?,
            ndim: r.u8("array ndim")?,
        };
        let at = |delta: u64| entry_offset + delta;
        let dtype = dtypes
            .get(prefix.dtype as usize)
            .ok_or_else(|| {
                Error::invalid_index(
                    at(ARRAY_DTYPE_OFFSET),
                    format!("array refers to missing dtype {}", prefix.dtype),
                )
            })?
            .clone();
        let order = Order::from_code(prefix.order).ok_or_else(|| {
            Error::invalid_array(
                at(ARRAY_ORDER_OFFSET),
                format!("unknown order code {}", prefix.order),
            )
        })?;
        let codec = Codec::from_code(prefix.codec).ok_or_else(|| {
            Error::invalid_array(at(ARRAY_CODEC_OFFSET), format!("unknown codec {}", prefix.codec))
        })?;
        let filter = Filter::from_code(prefix.filter)
            .filter(|&f| codec == Codec::Zstd || f == Filter::None)
            .ok_or_else(|| {
                Error::invalid_array(
                    at(ARRAY_FILTER_OFFSET),
                    format!("filter {} is not allowed here", prefix.filter),
                )
            })?;
        if usize::from(prefix.ndim) > MAX_NDIM {
            return Err(Error::limit(
                at(ARRAY_NDIM_OFFSET),
                format!("array has {} dimensions; at most 64", prefix.ndim),
            ));
        }
        let dims = r.take_items(u64::from(prefix.ndim), DIM_LEN, "array shape")?;
        let shape_start = all_dims.len();
        all_dims.extend(dims.chunks_exact(DIM_LEN as usize).map(le_u64));
        let shape = shape_start..all_dims.len();
        let itemsize = dtype.itemsize();
        let nbytes = checked_nbytes(itemsize, &all_dims[shape.clone()])
            .ok_or_else(|| Error::limit(at(ARRAY_SHAPE_OFFSET), "shape x itemsize overflows u64"))?;
        let block_size_offset = r.offset();
        let block_size = r.u64("block size")?;
        let expected_extents = match codec {
            Codec::None if block_size != 0 => {
                return Err(Error::invalid_array(
                    block_size_offset,
                    "a raw array must have block size 0",
                ));
            }
            Codec::None => u64::from(nbytes > 0),
            Codec::Zstd if block_size == 0 || block_size > MAX_BLOCK_SIZE => {
                return Err(Error::limit(
                    block_size_offset,
                    format!("block size {block_size} is not in 1..=2^30"),
                ));
            }
            Codec::Zstd if block_size % itemsize != 0 => {
                return Err(Error::invalid_array(
                    block_size_offset,
                    format!("block size {block_size} is not a multiple of itemsize {itemsize}"),
                ));
            }
            Codec::Zstd => nbytes.div_ceil(block_size),
        };
        let extent_count = r.u32("extent count")?;
        if u64::from(extent_count) != expected_extents {
            return Err(Error::length_mismatch(
                extent_count_offset(entry_offset, usize::from(prefix.ndim)),
                format!("{extent_count} extents but {nbytes} bytes need {expected_extents}"),
            ));
        }
        let records = r.take_items(u64::from(extent_count), EXTENT_RECORD_LEN, "extents")?;
        let first = extents.len();
        for (i, record) in records.chunks_exact(EXTENT_RECORD_LEN as usize).enumerate() {
            let extent = StoredExtent {
                offset: le_u64(record),
                stored_length: le_u64(&record[EXTENT_STORED_LENGTH_OFFSET as usize..]),
                crc32: le_u32(&record[EXTENT_CRC_OFFSET as usize..]),
            };
            let length_offset =
                extent_record_offset(entry_offset, usize::from(prefix.ndim), i) + EXTENT_STORED_LENGTH_OFFSET;
            match codec {
                Codec::None if extent.stored_length != nbytes => {
                    return Err(Error::length_mismatch(
                        length_offset,
                        format!(
                            "stored length {} but shape x itemsize is {nbytes}",
                            extent.stored_length
                        ),
                    ));
                }
                Codec::Zstd if extent.stored_length == 0 => {
                    return Err(Error::length_mismatch(
                        length_offset,
                        "a compressed block of 0 bytes",
                    ));
                }
                _ => {}
            }
            extents.push(extent);
        }
        arrays.push(ArrayEntry {
            dtype,
            order,
            codec,
            filter,
            shape,
            block_size,
            nbytes,
            extents: first..extents.len(),
            entry_offset,
        });
    }
    Ok((arrays, all_dims, extents))
}
