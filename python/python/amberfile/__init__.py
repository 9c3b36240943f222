"""amberfile: safe, fast dump/load of numpy arrays and scikit-learn models.

A drop-in replacement for ``joblib.dump``/``joblib.load`` that never runs code from the
file::

    from amberfile import dump, load
    dump(model, "model.amber")              # compress=3 for zstd
    model = load("model.amber")             # mmap_mode="r": zero-copy read-only arrays

All I/O, validation, compression and checksums happen in the Rust core (the ``amberfile``
crate). Loading rebuilds only trusted types (see ``amberfile._policy``); anything else raises
``UntrustedTypeError`` before any object is built.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable
from typing import IO, Any, Literal, Union

from . import _native
from ._errors import AmberError, ChecksumError, DumpError, FormatError, StateError, UntrustedTypeError
from ._policy import DEFAULT_TRUSTED, Policy

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

_DEFAULT_ALIGNMENT = 64


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
) -> None:
    """Writes ``obj`` to a path or a binary file object.

    A path is written atomically: a temporary file in the same directory, renamed into place,
    so readers (and live memory mappings) of an older file are never disturbed. A file object
    receives the file once the whole graph is encoded, through ``write`` calls of at most 1 MiB
    each. An object that cannot be written exactly raises ``DumpError`` (naming its type and
    graph path) before anything is written, to the path or the file object.
    """
    with _gc_paused():
        if _is_path(filename_or_fileobj):
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
) -> Any:
    """Rebuilds the value stored in a file.

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
    """
    policy = Policy(trusted)
    if mmap_mode not in (None, "r", "c"):
        raise ValueError(f'mmap_mode must be None, "r" or "c", not {mmap_mode!r}')
    if _is_path(filename_or_fileobj):
        mode = "copy" if mmap_mode is None else mmap_mode
        with _gc_paused():
            return _native.load_path(os.fspath(filename_or_fileobj), mode, policy, require_zero_copy, verify)
    if mmap_mode is not None:
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
) -> _native.LazyFile:
    """Opens a file whose value is a dict with str keys, to load its entries one at a time.

    Like ``np.load`` of an ``.npz`` or safetensors' ``safe_open``: the file is mapped and its
    structure and metadata validated, but nothing is built until asked for::

        f = amberfile.lazy_load("weights.amber", mmap_mode="r")
        names = f.keys()              # list of str, in file order
        w = f["layer.3.weight"]       # builds this entry only
        "bias" in f, len(f)
        everything = f.load()         # the whole value, as load() gives it

    Each entry is built on its own, under the same trust check as ``load``, so an object two
    entries share comes back as two objects. ``keys``, ``[]``, ``in`` and ``len`` raise
    ``TypeError`` if the root is not a dict with str keys. The other arguments mean what they
    mean for ``load``. The mapping stays open while the returned object or any array from it
    is alive.
    """
    if mmap_mode not in (None, "r", "c"):
        raise ValueError(f'mmap_mode must be None, "r" or "c", not {mmap_mode!r}')
    mode = "copy" if mmap_mode is None else mmap_mode
    return _native.open_lazy(os.fspath(filename), mode, Policy(trusted), require_zero_copy, verify)


def verify(filename: str | os.PathLike[str]) -> None:
    """Applies every validation rule of the spec to the file and checks every CRC-32, decoding
    every compressed block. Builds nothing. Raises ``FormatError`` (or ``ChecksumError``)."""
    _native.verify_path(os.fspath(filename))


def get_untrusted_types(
    filename_or_data: PathOrFile | bytes, trusted: Iterable[str] | None = None
) -> list[str]:
    """Every type or function name in the file that loading would refuse, sorted.

    Reads the file's metadata only; builds nothing and imports nothing named in the file
    (except modules of scikit-learn and scipy, to check whether a name is an estimator).
    """
    if isinstance(filename_or_data, (bytes, bytearray, memoryview)):
        names = _native.type_names_bytes(_as_bytes(filename_or_data))
    elif _is_path(filename_or_data):
        names = _native.type_names_path(os.fspath(filename_or_data))
    else:
        names = _native.type_names_bytes(_as_bytes(filename_or_data.read()))  # type: ignore[union-attr]
    policy = Policy(trusted)
    return [name for name in names if not policy.is_trusted(name)]
