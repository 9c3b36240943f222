//! The array table (spec 6.5): the checks on an [`ArraySpec`] and on the block size that make
//! each entry pass the reader's rules, and the entries as the writer recorded them.

use crate::dtype::check_dtype_tree;
use crate::error::{Error, Result};
use crate::format::{ArrayEntryPrefix, Codec, Filter, Order, StoredExtent};
use crate::limits::{Limits, MAX_BLOCK_SIZE, MAX_NDIM};
use crate::write::encode::{encode, put_len};
use crate::write::ArraySpec;

/// One array as the metadata section will describe it.
#[derive(Debug, Clone)]
pub(in crate::write) struct WrittenArray {
    pub dtype: u32,
    pub order: Order,
    pub codec: Codec,
    pub filter: Filter,
    pub shape: Vec<u64>,
    pub block_size: u64,
    pub extents: Vec<StoredExtent>,
}

/// The reader's rules on an array's entry that the caller's spec decides: R41 (at most 64
/// dimensions), the dtype rules R21 to R35 under the default limits, then R42 (the size fits in
/// u64). Returns the array's size in bytes.
pub(in crate::write) fn check_spec(spec: &ArraySpec) -> Result<u64> {
    if spec.shape.len() > MAX_NDIM {
        return Err(Error::limit(
            None,
            format!("{} dimensions; at most 64 are allowed", spec.shape.len()),
        ));
    }
    check_dtype_tree(&spec.dtype, &Limits::default())?;
    spec.nbytes()
}

/// The reader's rule R44 (`1 <= block_size <= 2^30`), applied to the option before rounding.
pub(in crate::write) fn check_block_size_option(block_size: u64) -> Result<()> {
    if block_size == 0 || block_size > MAX_BLOCK_SIZE {
        return Err(Error::invalid_options(None, "block size must be in 1..=2^30"));
    }
    Ok(())
}

/// An array's block size: the option rounded down to whole elements (R45), at least one
/// element, and still within R44.
pub(in crate::write) fn array_block_size(option: u64, itemsize: u64) -> Result<u64> {
    let block_size = (option / itemsize).max(1) * itemsize;
    if block_size > MAX_BLOCK_SIZE {
        return Err(Error::limit(None, "one element is larger than the largest block"));
    }
    Ok(block_size)
}

pub(super) fn encode_array_table(out: &mut Vec<u8>, arrays: &[WrittenArray]) -> Result<()> {
    for array in arrays {
        out.extend(encode(&ArrayEntryPrefix {
            dtype: array.dtype,
            order: array.order as u8,
            codec: array.codec as u8,
            filter: array.filter as u8,
            ndim: array.shape.len() as u8,
        }));
        array
            .shape
            .iter()
            .for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
        out.extend_from_slice(&array.block_size.to_le_bytes());
        put_len(out, array.extents.len())?;
        for extent in &array.extents {
            out.extend(encode(extent));
        }
    }
    Ok(())
}
