//! The names the package's own conventions give typed objects in a file (spec section 14.5.1,
//! the README's mapping table), defined once: the writer ([`crate::encode`]) and the loader
//! ([`crate::decode`]) use them here, and the Python side reads them from the extension module
//! (`amberfile._native.REDUCE_STATE`, ...), so no file of the package types them again.

use pyo3::prelude::*;

/// State of an object whose reduce value has list or dict items: `(state, listitems, dictitems)`.
pub(crate) const REDUCE_STATE: &str = "amberfile.ReduceState";
/// An array whose dtype the stored little-endian one lacks: state `(stored array, numpy.dtype)`.
pub(crate) const EXACT_ARRAY: &str = "amberfile.ExactArray";
/// A numpy dtype: state an empty array of it (or the tuple of `_dtypes`), or args `("object",)`.
pub(crate) const NUMPY_DTYPE: &str = "numpy.dtype";
/// A bytearray: args `(bytes,)`.
pub(crate) const BYTEARRAY: &str = "builtins.bytearray";
/// Masked arrays: args `(data, mask, None, False, True, 0, fill_value)` for the constructor.
pub(crate) const MASKED_ARRAY: &str = "numpy.ma.core.MaskedArray";
/// `numpy.matrix`, rebuilt by this function from its 2-d array.
pub(crate) const AS_MATRIX: &str = "numpy.asmatrix";

/// pickle's reconstructors, recorded by their own names: their first argument names the class.
pub(crate) const NEWOBJ: &str = "copyreg.__newobj__";
/// `copyreg.__newobj_ex__`: args `(class, args tuple, kwargs dict)`.
pub(crate) const NEWOBJ_EX: &str = "copyreg.__newobj_ex__";
/// `copyreg._reconstructor` (protocol 0): args `(class, base class, base state)`.
pub(crate) const RECONSTRUCTOR: &str = "copyreg._reconstructor";
/// Every reconstructor (see [`NEWOBJ`]).
pub(crate) const RECONSTRUCTORS: [&str; 3] = [NEWOBJ, NEWOBJ_EX, RECONSTRUCTOR];

/// Adds every name above to the extension module `m`, under the constant's own name.
pub(crate) fn export(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let names = [
        ("REDUCE_STATE", REDUCE_STATE),
        ("EXACT_ARRAY", EXACT_ARRAY),
        ("NUMPY_DTYPE", NUMPY_DTYPE),
        ("BYTEARRAY", BYTEARRAY),
        ("MASKED_ARRAY", MASKED_ARRAY),
        ("AS_MATRIX", AS_MATRIX),
        ("NEWOBJ", NEWOBJ),
        ("NEWOBJ_EX", NEWOBJ_EX),
        ("RECONSTRUCTOR", RECONSTRUCTOR),
    ];
    names.into_iter().try_for_each(|(name, value)| m.add(name, value))
}
