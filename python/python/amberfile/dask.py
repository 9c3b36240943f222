"""Dask over Amber files: arrays read in parallel chunks, models shipped to workers by reference.

Dask does the scheduling; this module supplies chunks, handles and bytes::

    import amberfile.dask as ad
    x = ad.from_amber("data.amber", "features")       # a dask.array.Array
    x.sum().compute()

    model = ad.ModelRef("model.amber")                 # a small picklable handle
    y = ad.predict_blocks(model, x)                    # model.predict over every block

- :func:`from_amber` reads one array of a file. The task graph holds only small picklable
  handles (the file's absolute path, the array's path in the file, element ranges), never
  array bytes. Each worker process opens the file once (cached per process), validates its
  header, trailer and metadata as any reader must, and reads only its own chunks: a raw array
  is mapped and each chunk is a read-only view of the file (no copy); a compressed array is
  decoded block by block, each block checked against its CRC-32 first, and a damaged one
  raises :class:`~amberfile.ChecksumError` naming the array and the block.
- :class:`ModelRef` loads a model once per worker process with :func:`amberfile.load` (memory
  mapped by default, so the workers of one machine share the page cache) instead of pickling
  it into the graph; :func:`predict_blocks` maps a method of it over the blocks of a Dask array
  or the partitions of a Dask DataFrame.

A URL (``s3://``, ``gs://``, ``az://``, ``http(s)://``) with ``storage_options`` is read by each
worker through the package's remote reader (spec 9.7): a compressed chunk fetches only the
blocks it needs, in one request, each checked against its CRC-32; a raw array is fetched whole,
once per worker process, since its one CRC-32 covers no less. Compress arrays meant for chunked
remote reads. This module implements no client of its own.
"""

from __future__ import annotations

import math
import os
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

import amberfile

from . import _native
from ._policy import Policy
from . import _storage_options

__all__ = ["ModelRef", "from_amber", "predict_blocks", "read_statistics"]

#: Default chunk size in bytes: a few MiB to a few tens of MiB per task keeps Dask's per-task
#: overhead (about a millisecond) small against the work and the chunks small against memory.
DEFAULT_CHUNK_BYTES = 32 << 20

_lock = threading.Lock()
_open_arrays: dict[_ArrayHandle, tuple[Any, Any, np.ndarray | None]] = {}
_models: dict[tuple[Any, ...], tuple[Any, Any]] = {}
_bytes_read: Counter[tuple[str, str]] = Counter()


def _is_url(path_or_url: object) -> bool:
    return isinstance(path_or_url, str) and _native.is_url(path_or_url)


def _location(path_or_url: str | os.PathLike[str]) -> str:
    """A URL unchanged; a local path made absolute, so workers started elsewhere find it."""
    if _is_url(path_or_url):
        return path_or_url  # type: ignore[return-value]
    return os.path.abspath(os.fspath(path_or_url))


@dataclass(frozen=True)
class _ArrayHandle:
    """What a task needs to find its array: picklable, a few hundred bytes."""

    location: str
    array_path: str
    verify: bool
    storage_options: tuple[tuple[str, Any], ...] | None

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return (type(self).__name__, self.location, self.array_path, self.verify, self.storage_options)


def _opened(handle: _ArrayHandle) -> tuple[Any, np.ndarray | None]:
    """This process's open array for `handle` (opened and validated once) and, if raw, its
    view of the whole array."""
    identity = _file_identity(handle.location)
    with _lock:
        found = _open_arrays.get(handle)
        if found is None or found[0] != identity:
            # First use in this process, or the file was replaced: (re)open, dropping the old
            # mapping with the old entry.
            options = None if handle.storage_options is None else dict(handle.storage_options)
            if _is_url(handle.location):
                pairs = _storage_options(handle.location, options)
                array = _native.open_array_url(handle.location, handle.array_path, pairs)
            else:
                _storage_options(handle.location, options)  # refuses options for a local path
                array = _native.open_array(handle.location, handle.array_path, handle.verify)
            view = array.view(Policy(None)) if array.raw else None
            found = _open_arrays[handle] = (identity, array, view)
        return found[1], found[2]


def _file_identity(location: str) -> tuple[int, ...] | None:
    """A local file's inode, size and mtime: a replaced file is opened anew, not read through
    a stale cache entry."""
    if _is_url(location):
        return None
    try:
        st = os.stat(location)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def read_statistics() -> dict[tuple[str, str], int]:
    """Bytes this process has read per (file, array path) through :func:`from_amber`'s chunks:
    stored bytes of the compressed blocks decoded, or bytes of the raw chunks handed out. Run it
    on the workers (``client.run(amberfile.dask.read_statistics)``) to see who read what."""
    with _lock:
        return dict(_bytes_read)


@dataclass(frozen=True)
class _Layout:
    """How an array's elements lie in storage: along which axis consecutive slabs are
    contiguous (0 in C order, the last axis in Fortran order), and how big a slab is."""

    shape: tuple[int, ...]
    axis: int
    slab_items: int
    itemsize: int
    fortran: bool

    @classmethod
    def of(cls, array: Any) -> _Layout:
        shape = tuple(array.shape)
        axis = len(shape) - 1 if array.fortran and shape else 0
        others = [n for i, n in enumerate(shape) if i != axis]
        return cls(shape, axis, math.prod(others), array.dtype.itemsize, array.fortran)

    @property
    def slab_bytes(self) -> int:
        return max(1, self.slab_items * self.itemsize)


def _block_step(layout: _Layout, block_size: int, raw: bool) -> int:
    """The smallest number of slabs whose bytes are a whole number of blocks (1 for a raw
    array, or when that number would make chunks of more than 4 default chunks: then chunk
    edges fall inside blocks, and a block on an edge is decoded by both chunks)."""
    if raw:
        return 1
    step = math.lcm(block_size, layout.slab_bytes) // layout.slab_bytes
    return step if step * layout.slab_bytes <= 4 * DEFAULT_CHUNK_BYTES else 1


def _storage_axis_chunks(length: int, step: int, per_chunk: int) -> tuple[int, ...]:
    size = max(step, per_chunk // step * step)
    chunks = [size] * (length // size)
    if length % size or not chunks:
        chunks.append(length % size)
    return tuple(chunks)


def _rounded(boundaries: Iterable[int], length: int, step: int) -> tuple[int, ...]:
    """Chunk sizes whose edges are the user's, each moved to the nearest multiple of `step`."""
    edges = sorted({min(length, round(b / step) * step) for b in boundaries} | {0, length})
    return tuple(b - a for a, b in zip(edges, edges[1:])) or (0,)


def _chunks_for(layout: _Layout, chunks: Any, block_size: int, raw: bool, dtype: np.dtype) -> tuple[tuple[int, ...], ...]:
    from dask.array.core import normalize_chunks

    shape = layout.shape
    axis = layout.axis
    step = _block_step(layout, block_size, raw)
    if not shape:
        return ()
    if chunks is None:
        target = DEFAULT_CHUNK_BYTES if raw else max(block_size, DEFAULT_CHUNK_BYTES // block_size * block_size)
        along = _storage_axis_chunks(shape[axis], step, max(1, target // layout.slab_bytes))
        return tuple(along if i == axis else (n,) for i, n in enumerate(shape))
    normal = list(normalize_chunks(chunks, shape, dtype=dtype))
    edges = np.cumsum((0,) + normal[axis]).tolist()
    normal[axis] = _rounded(edges, shape[axis], step)
    return tuple(normal)


def _read_chunk(handle: _ArrayHandle, layout: _Layout, ranges: tuple[tuple[int, int], ...]) -> np.ndarray:
    """One chunk: `ranges` gives (start, stop) along each axis."""
    array, view = _opened(handle)
    slices = tuple(slice(a, b) for a, b in ranges)
    key = (handle.location, handle.array_path)
    if view is not None:
        chunk = view[slices]
        with _lock:
            _bytes_read[key] += chunk.nbytes
        return chunk
    start, stop = ranges[layout.axis] if layout.shape else (0, 1)
    flat, stored = array.read_items(start * layout.slab_items, stop * layout.slab_items)
    with _lock:
        _bytes_read[key] += stored
    if not layout.shape:
        return flat.reshape(())
    others = [n for i, n in enumerate(layout.shape) if i != layout.axis]
    if layout.fortran:
        slab = flat.reshape((*others, stop - start), order="F")
    else:
        slab = flat.reshape((stop - start, *others))
    inner = tuple(slice(None) if i == layout.axis else s for i, s in enumerate(slices))
    return slab[inner]


def from_amber(
    path_or_url: str | os.PathLike[str],
    key_or_path: str,
    chunks: Any = None,
    *,
    verify: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """A ``dask.array.Array`` over one array of an Amber file.

    ``key_or_path`` names the array with the CLI's path syntax (``amber extract``): segments
    separated by ``/``, map keys by name, indices from 0, objects transparent, so a top-level
    dict entry is just its key and ``estimators_/3/tree_/nodes`` is a forest's fourth tree's
    node array. The file is opened and validated here, on the client, and again once in each
    worker process.

    ``chunks`` (anything ``dask.array`` accepts) defaults to the array's storage: chunks of
    whole compressed blocks (about 32 MiB, a chunk never splits a block) or, for a raw array,
    about 32 MiB along the axis that is contiguous in storage (the first in C order, the last
    in Fortran order). Chunk edges along that axis are moved to the nearest block boundary,
    so the chunks you get may differ from the ones you asked for (``x.chunks`` says); if no
    whole number of rows lines up with the blocks, edges stay on rows and a block on an edge
    is decoded by both chunks. Chunks along the other axes are sliced from whole rows.

    A raw array's chunks are read-only views of the mapped file. Its single CRC-32 covers the
    whole array, so ``verify=True`` makes each worker process read the whole array once to
    check it (as ``load(..., mmap_mode="r", verify=True)`` does); by default it is unchecked,
    as a mapped load leaves it. Compressed blocks are always checked. ``storage_options`` is
    for remote URLs and passed on unchanged.
    """
    import dask.array as da
    from dask.base import tokenize

    location = _location(path_or_url)
    options = None if storage_options is None else tuple(sorted(storage_options.items()))
    handle = _ArrayHandle(location, key_or_path, verify, options)
    array, _ = _opened(handle)
    layout = _Layout.of(array)
    dtype = array.dtype
    normal = _chunks_for(layout, chunks, array.block_size, array.raw, dtype)
    name = "from-amber-" + tokenize(handle, _file_identity(location), normal)
    graph: dict[tuple[Any, ...], Any] = {}
    starts = [np.cumsum((0,) + c).tolist() for c in normal]
    for index in np.ndindex(*[len(c) for c in normal]):
        ranges = tuple((starts[d][i], starts[d][i + 1]) for d, i in enumerate(index))
        graph[(name, *index)] = (_read_chunk, handle, layout, ranges)  # a 0-d array: one task
    return da.Array(graph, name, normal, dtype=dtype, meta=np.empty((0,) * len(layout.shape), dtype))


class ModelRef:
    """A picklable handle on a model file, loaded once per process when first used.

    Put it in a Dask graph (or any pickled task) instead of the fitted model: the graph holds a
    path, and each worker process loads the model with :func:`amberfile.load` (``trusted`` and
    ``mmap_mode`` as there; ``"r"`` by default for a local file, so worker processes on one
    machine share the page cache instead of each holding a copy). A local path is made
    absolute; a URL and ``storage_options`` are passed to ``load`` unchanged, and a URL's model
    is fetched into each process's memory (there is nothing to map). A file replaced since it was loaded
    (new inode, size or mtime) is loaded again.
    """

    def __init__(
        self,
        path_or_url: str | os.PathLike[str],
        trusted: Iterable[str] | None = None,
        mmap_mode: str | None = "r",
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.location = _location(path_or_url)
        self.trusted = None if trusted is None else tuple(sorted(trusted))
        self.mmap_mode = None if _is_url(self.location) else mmap_mode
        self.storage_options = None if storage_options is None else dict(storage_options)

    def _key(self) -> tuple[Any, ...]:
        options = None if self.storage_options is None else tuple(sorted(self.storage_options.items()))
        return (self.location, self.trusted, self.mmap_mode, options)

    def __repr__(self) -> str:
        return f"ModelRef({self.location!r}, mmap_mode={self.mmap_mode!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelRef) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return ("ModelRef", *self._key(), _file_identity(self.location))

    def load(self) -> Any:
        """The model, loaded on first use in this process and kept."""
        key, identity = self._key(), _file_identity(self.location)
        with _lock:
            found = _models.get(key)
        if found is not None and found[0] == identity:
            return found[1]
        extra = {} if self.storage_options is None else {"storage_options": self.storage_options}
        model = amberfile.load(self.location, mmap_mode=self.mmap_mode, trusted=self.trusted, **extra)  # type: ignore[arg-type]
        with _lock:
            # Two threads may have loaded it at once: keep one; a replaced file's model is dropped.
            found = _models.get(key)
            if found is None or found[0] != identity:
                found = _models[key] = (identity, model)
        return found[1]


def _apply_to_block(block: np.ndarray, model: ModelRef, method: str) -> np.ndarray:
    return np.asarray(getattr(model.load(), method)(block))


def _apply_to_partition(partition: Any, model: ModelRef, method: str) -> Any:
    import pandas as pd

    out = np.asarray(getattr(model.load(), method)(partition))
    if out.ndim == 1:
        return pd.Series(out, index=partition.index)
    return pd.DataFrame(out, index=partition.index)


def predict_blocks(model: ModelRef, data: Any, method: str = "predict") -> Any:
    """``model.load().<method>`` over every block of a 2-D Dask array (rows in, one result per
    row out; the array is rechunked to whole rows first if it is split by column) or every
    partition of a Dask DataFrame (a Series, or a DataFrame for 2-D results, on the partition's
    index). The output's dtype and width come from running the method on one row here, on the
    client (which loads the model once, mapped)."""
    import dask.array as da

    if isinstance(data, da.Array):
        if data.ndim != 2:
            raise ValueError(f"predict_blocks needs a 2-D array of rows, not {data.ndim}-D")
        if len(data.chunks[1]) > 1:
            data = data.rechunk({1: -1})
        sample = _apply_to_block(np.zeros((1, data.shape[1]), data.dtype), model, method)
        if sample.ndim == 1:
            return data.map_blocks(_apply_to_block, model, method, drop_axis=1, dtype=sample.dtype)
        return data.map_blocks(
            _apply_to_block, model, method, dtype=sample.dtype, chunks=(data.chunks[0], sample.shape[1:])
        )
    meta_in = data._meta_nonempty
    meta = _apply_to_partition(meta_in, model, method).iloc[:0]
    return data.map_partitions(_apply_to_partition, model, method, meta=meta)
