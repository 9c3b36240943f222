"""numpy dtypes the file's dtype table cannot say alone: byte orders other than little-endian,
a standalone sub-array dtype (``dtype('(2,3)i2')``) and a dtype's metadata (the README's mapping
table; spec section 14.5.1).

Arrays are stored little-endian. A ``numpy.dtype`` node whose dtype differs from the stored one
has the state ``(empty array of the stored dtype, byte orders, sub-array shape, metadata)``;
an array whose dtype differs is an ``amberfile.ExactArray`` with the state ``(stored array,
numpy.dtype)``. Byte orders follow the stored dtype's tree: one of ``<``, ``>``, ``|`` for a
plain dtype, a list of the fields' orders for a record. Everything rebuilt is checked against
the stored dtype, so a file can only choose among the layouts its dtype table already allows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._native import MAX_SUBARRAY_DIMS, MAX_SUBARRAY_ITEM_BYTES

ORDERS = ("<", ">", "|")


def _orders(dtype: np.dtype) -> Any:
    if dtype.fields is None:
        return dtype.str[0]
    if any(dtype.fields[name][0].metadata for name in dtype.names):
        raise TypeError("cannot record metadata on the fields of a record dtype")
    return [_orders(dtype.fields[name][0].base) for name in dtype.names]


def _has_big_endian(orders: Any) -> bool:
    return orders == ">" if isinstance(orders, str) else any(map(_has_big_endian, orders))


def _is_exact(dtype: np.dtype, orders: Any) -> bool:
    return dtype.subdtype is None and not dtype.metadata and not _has_big_endian(orders)


def dtype_state(dtype: np.dtype) -> Any:
    """The state of a ``numpy.dtype`` node: an empty array of the dtype, or the tuple above."""
    base, shape = dtype.subdtype or (dtype, ())
    orders = _orders(base)
    if _is_exact(dtype, orders):
        return np.empty(0, dtype)
    metadata = tuple(dtype.metadata.items()) if dtype.metadata else None
    return np.empty(0, _little(base)), orders, shape or None, metadata


def exact_array_state(array: np.ndarray) -> tuple[np.ndarray, np.dtype] | None:
    """The state of an ``amberfile.ExactArray`` for ``array``: ``(stored array, dtype)``, or
    None if the plain stored array is exact. The dtype is the one pickle gives back: numpy
    makes a plain non-native dtype native on unpickling, but keeps a record's byte orders."""
    dtype = array.dtype if array.dtype.fields is not None else array.dtype.newbyteorder("<")
    if _is_exact(dtype, _orders(dtype)):
        return None
    return array.astype(_little(dtype)), dtype


def _little(dtype: np.dtype) -> np.dtype:
    """``dtype`` little-endian and without metadata: the dtype the file stores."""
    little = dtype.newbyteorder("<")
    if not little.metadata:
        return little
    if little.fields is None:
        return np.dtype(little.str)
    return _with_orders(little, _orders(little))  # rebuilt field by field, without metadata


def exact_dtype(stored: Any, orders: Any, shape: Any, metadata: Any) -> np.dtype:
    """The dtype of a ``numpy.dtype`` node's tuple state. Raises TypeError or ValueError for a
    state that does not fit its stored dtype."""
    if not isinstance(stored, np.ndarray) or stored.dtype.hasobject:
        raise TypeError("a dtype's state must start with an array of plain data")
    dtype = _with_orders(stored.dtype, orders)
    if shape is not None:
        if type(shape) is not tuple or not 0 < len(shape) <= MAX_SUBARRAY_DIMS:
            raise TypeError(f"a sub-array shape must be a tuple of 1 to {MAX_SUBARRAY_DIMS} sizes")
        size = dtype.itemsize
        for dim in shape:
            if type(dim) is not int or dim < 0:
                raise TypeError("a sub-array shape must hold sizes")
            size *= dim
            if size > MAX_SUBARRAY_ITEM_BYTES:
                raise ValueError("a sub-array dtype's item is too large")
        dtype = np.dtype((dtype, shape))
    if metadata is not None:
        if type(metadata) is not tuple or not all(type(p) is tuple and len(p) == 2 for p in metadata):
            raise TypeError("a dtype's metadata must be (key, value) pairs")
        dtype = np.dtype(dtype, metadata=dict(metadata))
    return dtype


def _with_orders(stored: np.dtype, orders: Any) -> np.dtype:
    """``stored`` with the byte orders ``orders``; recursion bounded by the stored dtype's depth."""
    if stored.fields is None:
        if type(orders) is not str or orders not in ORDERS:
            raise TypeError("a byte order must be one of '<', '>', '|'")
        return stored.newbyteorder(">") if orders == ">" else stored
    names = stored.names
    if type(orders) is not list or len(orders) != len(names):
        raise TypeError("a record's byte orders must be a list with one entry per field")
    formats = []
    for name, order in zip(names, orders):
        field = stored.fields[name][0]
        base = _with_orders(field.base, order)
        formats.append((base, field.shape) if field.shape else base)
    offsets = [stored.fields[name][1] for name in names]
    return np.dtype({"names": list(names), "formats": formats, "offsets": offsets, "itemsize": stored.itemsize})


def exact_array(parts: Any) -> np.ndarray:
    """The array of an ``amberfile.ExactArray`` state ``(stored array, dtype)``: converted to the
    dtype, which must have the stored array's layout."""
    if type(parts) is not tuple or len(parts) != 2:
        raise TypeError("expected a (stored array, dtype) pair")
    array, dtype = parts
    if type(array) is not np.ndarray or not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise TypeError("expected an array and a dtype of plain data")
    if dtype.subdtype is not None or dtype.newbyteorder("<") != array.dtype.newbyteorder("<"):
        raise TypeError(f"an array of {array.dtype} cannot be given the dtype {dtype}")
    return array.astype(dtype)
