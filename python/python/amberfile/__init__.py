"""amberfile: safe, fast dump/load of numpy arrays and scikit-learn models.

A drop-in replacement for ``joblib.dump``/``joblib.load`` that never runs code from the
file::

    from amberfile import dump, load
    dump(model, "model.amber")              # compress=3 for zstd
    model = load("model.amber")             # mmap_mode="r": zero-copy read-only arrays
    model = load("s3://bucket/model.amber", storage_options={"aws_region": "eu-west-1"})

All I/O, validation, compression and checksums happen in the Rust core (the ``amberfile``
crate). Loading rebuilds only trusted types (see ``amberfile._trust``); anything else raises
``UntrustedTypeError`` before any object is built.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable
from collections.abc import Mapping
from typing import IO, Any, Literal, Union

from . import _native
from ._errors import AmberError, ChecksumError, DumpError, FormatError, StateError, UntrustedTypeError
from ._policy import Policy
from ._trust import DEFAULT_TRUSTED

__all__ = [
    "AmberError",
    "ChecksumError",
    "DEFAULT_TRUSTED",
    "DumpError",
    "FormatError",
    "StateError",
    "UntrustedTypeError",
    "dump",
    "dumps",
    "get_untrusted_types",
    "lazy_load",
    "load",
    "loads",
    "verify",
]

PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]
MmapMode = Literal["r", "c"]
StorageOptions = Mapping[str, Union[str, bool, int, float]]

_DEFAULT_ALIGNMENT = _native.DEFAULT_ALIGNMENT


class _gc_paused:
    """Pauses the cyclic garbage collector: encoding or rebuilding a model allocates thousands
    of containers that all stay alive, so collections triggered meanwhile find nothing to
    free and only cost time. (A class: cheaper to enter than a generator-based manager, which
    matters for small models.)"""

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self.was_enabled:
            gc.enable()


def _level(compress: int | bool) -> int:
    if compress is True:
        return 3
    if isinstance(compress, bool) or not isinstance(compress, int):
        raise TypeError("compress must be an int from 0 (none) to 22, or a bool")
    return compress


def _is_path(target: object) -> bool:
    return isinstance(target, (str, os.PathLike))


def _is_url(target: object) -> bool:
    """A str such as ``s3://bucket/key`` or ``https://host/file``: read and written through the
    Rust core's object store client (``object_store``), one byte range at a time."""
    return isinstance(target, str) and _native.is_url(target)


def _storage_options(target: object, storage_options: StorageOptions | None) -> list[tuple[str, str]]:
    """``storage_options`` as the string pairs ``object_store`` takes (bools as true/false)."""
    if storage_options is None:
        return []
    if not _is_url(target):
        raise ValueError("storage_options apply to URLs only, not to local paths or file objects")
    if not isinstance(storage_options, Mapping):
        raise TypeError("storage_options must be a mapping of option names to values")
    pairs = []
    for key, value in storage_options.items():
        if not isinstance(key, str) or not isinstance(value, (str, bool, int, float)):
            raise TypeError(f"storage option {key!r}: names and values must be str (or bool, int, float)")
        pairs.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
    return pairs


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    return data if isinstance(data, bytes) else bytes(data)


def dumps(
    obj: Any, compress: int | bool = 0, *, shuffle: bool = True, alignment: int = _DEFAULT_ALIGNMENT
) -> bytes:
    """Encodes ``obj`` as the bytes of an Amber file.

    ``compress`` is the zstd level (0 stores arrays raw and memory-mappable; ``True`` means 3);
    with ``shuffle`` (the default) compressed arrays are byte-shuffled first, which helps
    numeric data. ``alignment`` (a power of two, 64 to 2**24) is where raw arrays start in the
    file.
    """
    with _gc_paused():
        return _native.dumps(obj, _level(compress), shuffle, alignment)


def dump(
    obj: Any,
    filename_or_fileobj: PathOrFile,
    compress: int | bool = 0,
    *,
    shuffle: bool = True,
    alignment: int = _DEFAULT_ALIGNMENT,
    storage_options: StorageOptions | None = None,
) -> None:
    """Writes ``obj`` to a path, a URL or a binary file object.

    A path is written atomically: a temporary file in the same directory, renamed into place,
    so readers (and live memory mappings) of an older file are never disturbed. A file object
    receives the file once the whole graph is encoded, through ``write`` calls of at most 1 MiB
    each. An object that cannot be written exactly raises ``DumpError`` (naming its type and
    graph path) before anything is written, to the path or the file object.

    A URL (``s3://``, ``gs://``, ``az://``, ``http(s)://``, ``file://``) is written in one pass
    as a multipart upload, holding one part (8 MiB by default) in memory; the object appears
    only when the upload completes, and a failed dump aborts it. ``storage_options`` go to the
    store (``object_store``'s keys, such as ``aws_endpoint`` or ``aws_region``; credentials
    not given come from the environment).
    """
    options = _storage_options(filename_or_fileobj, storage_options)
    with _gc_paused():
        if _is_url(filename_or_fileobj):
            _native.dump_url(obj, filename_or_fileobj, options, (_level(compress), shuffle, alignment))
        elif _is_path(filename_or_fileobj):
            _native.dump_path(obj, os.fspath(filename_or_fileobj), _level(compress), shuffle, alignment)
        else:
            _native.dump_file(obj, filename_or_fileobj, _level(compress), shuffle, alignment)


def loads(data: bytes | bytearray | memoryview, trusted: Iterable[str] | None = None) -> Any:
    """Rebuilds the value held in ``data``. Arrays are writable copies, every CRC-32 checked."""
    with _gc_paused():
        return _native.load_bytes(_as_bytes(data), Policy(trusted))


def load(
    filename_or_fileobj: PathOrFile,
    mmap_mode: MmapMode | None = None,
    trusted: Iterable[str] | None = None,
    *,
    require_zero_copy: bool = False,
    verify: bool = False,
    storage_options: StorageOptions | None = None,
) -> Any:
    """Rebuilds the value stored in a file, at a path, a URL or in a binary file object.

    ``mmap_mode``:
      - ``None``: arrays are writable copies (one copy from the page cache);
      - ``"r"``: raw arrays are read-only views of the memory-mapped file, with no copy; the
        mapping lives as long as any array does. Compressed arrays are decoded into memory,
        or refused with ``FormatError`` (class ``NotZeroCopy``) if ``require_zero_copy``;
      - ``"c"``: raw arrays are writable copy-on-write views; writes never reach the file.

    The file must not be modified or truncated in place while mapped (``dump`` replaces files
    by rename, which is safe). ``trusted`` adds names to the types that may be rebuilt; any
    other untrusted name raises ``UntrustedTypeError`` before anything is built.

    The file's structure and its header, trailer and metadata CRCs are always checked, and so
    are the CRC-32s of arrays copied or decoded into memory, as the spec requires. ``verify``
    decides for arrays mapped with ``mmap_mode``: ``False`` (the default) leaves them
    unchecked, so that mapping stays lazy; ``True`` checks each when it is loaded (reading it
    once). ``amberfile.verify(path)`` checks a whole file on demand.

    With ``mmap_mode``, opening reads only the header, trailer and metadata (spec 9.6), and the
    zero padding between arrays is checked, front to back, before the arrays are built (with
    positional reads of the page beside each padding region, not through the mapping, so that a
    cold file's arrays are not read in by the mapping's readahead); a file whose
    padding hides bytes fails with ``FormatError`` (class ``NonZeroPadding``), as a copying load
    does. ``lazy_load`` checks only the padding before the arrays it builds.

    A URL (``s3://``, ``gs://``, ``az://``, ``http(s)://``, ``file://``) is read by ranges
    (spec 9.7): the trailer and metadata first (usually one request), validated and
    trust-checked before any array is fetched, then the arrays in the order they are built, in
    batches of up to 64 MiB (one round trip each; most models are one batch), each
    CRC-checked. The load holds at most one batch besides the arrays. Arrays are copies;
    ``mmap_mode`` with a URL is a ``ValueError``. ``storage_options`` go to the store, as for
    ``dump``.
    """
    policy = Policy(trusted)
    mode = _native.LoadMode.from_mmap_mode(mmap_mode)
    options = _storage_options(filename_or_fileobj, storage_options)
    if _is_url(filename_or_fileobj):
        if mode != _native.LoadMode.Copy:
            raise ValueError("mmap_mode needs a local path: a URL's arrays are fetched into memory")
        with _gc_paused():
            return _native.load_url(filename_or_fileobj, options, policy)
    if _is_path(filename_or_fileobj):
        with _gc_paused():
            return _native.load_path(os.fspath(filename_or_fileobj), mode, policy, require_zero_copy, verify)
    if mode != _native.LoadMode.Copy:
        raise ValueError("mmap_mode needs a path, not a file object")
    data = _as_bytes(filename_or_fileobj.read())  # type: ignore[union-attr]
    with _gc_paused():
        return _native.load_bytes(data, policy)


def lazy_load(
    filename: str | os.PathLike[str],
    mmap_mode: MmapMode | None = None,
    trusted: Iterable[str] | None = None,
    *,
    require_zero_copy: bool = False,
    verify: bool = False,
    storage_options: StorageOptions | None = None,
) -> _native.LazyFile:
    """Opens a file whose value is a dict with str keys, to load its entries one at a time.

    Like ``np.load`` of an ``.npz`` or safetensors' ``safe_open``: the file is mapped and its
    structure and metadata validated, reading only its header, trailer and metadata (spec 9.6),
    and nothing is built until asked for::

        f = amberfile.lazy_load("weights.amber", mmap_mode="r")
        names = f.keys()              # list of str, in file order
        w = f["layer.3.weight"]       # builds this entry only
        "bias" in f, len(f)
        everything = f.load()         # the whole value, as load() gives it

    Each entry is built on its own, under the same trust check as ``load``, so an object two
    entries share comes back as two objects. ``keys``, ``[]``, ``in`` and ``len`` raise
    ``TypeError`` if the root is not a dict with str keys. The other arguments mean what they
    mean for ``load``. The mapping stays open while the returned object or any array from it
    is alive. The zero padding before an array is checked when an entry first uses that array:
    a file whose padding hides bytes opens, and the entries after that padding raise
    ``FormatError`` (class ``NonZeroPadding``), as ``amberfile.verify`` does.

    With a URL, opening fetches and validates the metadata only (usually one or two range
    requests) and each entry's arrays are fetched, as copies, when the entry is built.

    ``f.to_dask(key_or_path, chunks=None)`` gives one array as a ``dask.array.Array`` instead of
    building it: :func:`amberfile.dask.from_amber` over the same file and options.
    """
    mode = _native.LoadMode.from_mmap_mode(mmap_mode)
    options = _storage_options(filename, storage_options)
    if _is_url(filename):
        if mode != _native.LoadMode.Copy:
            raise ValueError("mmap_mode needs a local path: a URL's arrays are fetched into memory")
        reopen = {"verify": verify, "storage_options": storage_options}
        return _native.open_lazy_url(filename, options, Policy(trusted), reopen)
    path = os.path.abspath(os.fspath(filename))  # to_dask's workers may run elsewhere
    return _native.open_lazy(path, mode, Policy(trusted), require_zero_copy, verify, (path, {"verify": verify}))


def verify(filename: str | os.PathLike[str], *, storage_options: StorageOptions | None = None) -> None:
    """Applies every validation rule of the spec to the file and checks every CRC-32, decoding
    every compressed block. Builds nothing. Raises ``FormatError`` (or ``ChecksumError``).
    A URL is streamed once, whole, with bounded memory."""
    options = _storage_options(filename, storage_options)
    if _is_url(filename):
        _native.verify_url(filename, options)
    else:
        _native.verify_path(os.fspath(filename))


def get_untrusted_types(
    filename_or_data: PathOrFile | bytes,
    trusted: Iterable[str] | None = None,
    *,
    storage_options: StorageOptions | None = None,
) -> list[str]:
    """Every type or function name in the file that loading would refuse, sorted.

    Reads the file's metadata only; builds nothing and imports nothing named in the file
    (except modules of scikit-learn and scipy, to check whether a name is an estimator).
    """
    options = _storage_options(filename_or_data, storage_options)
    if isinstance(filename_or_data, (bytes, bytearray, memoryview)):
        names = _native.type_names_bytes(_as_bytes(filename_or_data))
    elif _is_url(filename_or_data):
        names = _native.type_names_url(filename_or_data, options)
    elif _is_path(filename_or_data):
        names = _native.type_names_path(os.fspath(filename_or_data))
    else:
        names = _native.type_names_bytes(_as_bytes(filename_or_data.read()))  # type: ignore[union-attr]
    policy = Policy(trusted)
    return [name for name in names if not policy.is_trusted(name)]
