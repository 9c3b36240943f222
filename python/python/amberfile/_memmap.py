"""The ``np.memmap`` under arrays that ``load``/``lazy_load`` map (``mmap_mode="r"``/``"c"``).

joblib's memmapping reducer (used by ``joblib.Parallel`` and every scikit-learn ``n_jobs``)
passes an array to its worker processes by file name when an ``np.memmap`` with ``filename``,
``offset`` and ``mode`` sits in the array's ``base`` chain; otherwise it copies the array into
its temporary folder. The native loader validates the file through its own descriptor, then
calls :func:`memmap_of` with that descriptor, so the memory handed out maps the very file that
was validated (same open file, not a second open by name).

The workers reopen the file by name, as they do for ``joblib.load(mmap_mode="r")``: so the
name must still denote the validated file when the load happens (checked here: same device,
inode and size), and, as for any mapping, the file must not be replaced or changed while the
workers use it.
"""

from __future__ import annotations

import os

import numpy as np


def memmap_of(fd: int, path: str | os.PathLike[str], mode: str) -> np.memmap | None:
    """A whole-file ``np.memmap`` (uint8, offset 0) of the open file ``fd``, named ``path``;
    None if ``path`` no longer names that file, in which case the loader maps the file itself
    (arrays stay zero-copy, but joblib copies them)."""
    opened = os.fstat(fd)
    try:
        named = os.stat(path)
    except OSError:
        return None
    if (opened.st_dev, opened.st_ino, opened.st_size) != (named.st_dev, named.st_ino, named.st_size):
        return None
    if opened.st_size == 0:
        return None
    # np.memmap maps `fileno()` (mmap duplicates the descriptor); closefd=False leaves the
    # loader's descriptor open.
    with open(fd, "rb", closefd=False) as file:
        memmap = np.memmap(file, dtype=np.uint8, mode=mode)
    memmap.filename = os.path.abspath(path)
    return memmap
