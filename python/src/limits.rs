//! Every bound of the package in one place: the ones it takes from the crate's defaults, and
//! its own on what a file can make Python build (the README's "Bounds" table). The Python side
//! reads the ones it needs from the extension module (`amberfile._native.DEFAULT_ALIGNMENT`,
//! ...), so no file of the package copies a value.

use amberfile::{Limits, WriteOptions};
use pyo3::prelude::*;

/// Longest big int `dump` writes: the most the default reader limits accept.
pub(crate) fn max_bigint_bytes() -> usize {
    Limits::default().max_bigint_bytes as usize
}

/// Deepest record nesting `dump` converts: the default reader limit.
pub(crate) fn max_record_depth() -> u32 {
    Limits::default().max_dtype_depth
}

/// Deepest nesting of tuples and frozensets the loader builds. Python hashes and compares them
/// recursively in C with no depth guard, so a deeper chain in a set or dict key could overflow
/// the stack.
pub(crate) const MAX_IMMUTABLE_DEPTH: u32 = 10_000;

/// Longest chain of object arrays and typed objects, each holding the next, the loader builds
/// (counted along every path, whatever lies between). numpy arrays, slices and Cython classes
/// (scikit-learn's `PyFuncDistance64`) are freed recursively, without the trashcan that lists,
/// dicts and tuples use, so a chain of some 100,000 overflows the C stack when it is freed.
/// Models nest them a few levels deep; pickle itself refuses to save 1,000.
pub(crate) const MAX_RECURSIVE_FREE_DEPTH: u32 = 1_000;

/// Most keys of one dict, set or frozenset that may share one Python hash. CPython compares
/// such keys one by one on every insertion, so a file of colliding big ints (`hash(n)` is `n`
/// modulo 2**61 - 1) would make loading quadratic; real data has a handful at most.
pub(crate) const MAX_KEYS_PER_HASH: usize = 64;

/// Most dimensions of a standalone sub-array dtype's shape (`_dtypes.exact_dtype`).
const MAX_SUBARRAY_DIMS: u32 = 32;

/// Largest item of a standalone sub-array dtype (`_dtypes.exact_dtype`), in bytes: 2^31, one
/// more than the format's `MAX_ITEMSIZE` allows a dtype of the table.
const MAX_SUBARRAY_ITEM_BYTES: u64 = 1 << 31;

/// Adds the bounds the Python side reads to the extension module `m`.
pub(crate) fn export(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("DEFAULT_ALIGNMENT", WriteOptions::default().alignment)?;
    m.add("MAX_SUBARRAY_DIMS", MAX_SUBARRAY_DIMS)?;
    m.add("MAX_SUBARRAY_ITEM_BYTES", MAX_SUBARRAY_ITEM_BYTES)
}
