"""A named error instead of SIGBUS when a memory-mapped file shrinks under the map.

Reading a page of a memory map whose file has since been truncated (by another
process: a rerun writing the same path, ``truncate``, a copy in progress) does
not raise: the kernel sends SIGBUS and the whole Python process (a research
kernel holding hours of state) dies with signal 7. There is no way to catch
that signal in Python and resume the faulting read.

So amumo checks, cheaply, before it reads: :func:`check_mapped` asks the
mapping for the current size of its file (``mmap.size()``: one ``fstat`` of
the descriptor the map holds, about a microsecond, no I/O) and raises
:class:`MappedFileChangedError` when the file no longer covers the mapped
bytes. The check runs

- whenever a modality is taken from an :class:`~amumo.Embeddings`
  (``emb["image"]``): the start of every analysis pass, and
- between the blocks of every blocked pass over memory-mapped rows (in
  :func:`~amumo.embeddings._rows.release_rows` and
  :func:`~amumo.embeddings._rows.take_rows`, which every such pass calls after
  each block of ~8 MiB).

What remains is a truncation that lands *while* one block is being read (a few
milliseconds): that still ends the process; a file that is replaced (written to
a new file and renamed over the old path, as amumo's own writers do) is always
safe, since the map keeps the old file alive.

Examples
--------
>>> import numpy as np, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "rows.npy")
>>> np.save(path, np.ones((4, 2), np.float32))
>>> rows = np.load(path, mmap_mode="r")
>>> check_mapped(rows)  # the file covers the map: nothing happens
>>> os.truncate(path, 100)
>>> check_mapped(rows[1:])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
amumo.embeddings._map_guard.MappedFileChangedError: ...rows.npy changed under the memory map...
"""

from __future__ import annotations

import mmap
from typing import Any

import numpy as np

__all__ = ["MappedFileChangedError", "memmap_of", "check_mapped", "check_mapping"]


class MappedFileChangedError(OSError):
    """A memory-mapped embeddings file shrank after it was mapped: reading it would crash.

    Reopen the file (``am.Embeddings.load(path, mmap=True)`` or
    ``am.Embeddings.open(folder)``) once whoever changed it has finished.
    """


def memmap_of(array: Any) -> Any:
    """The ``numpy.memmap`` (holding an ``mmap`` in ``_mmap``) behind ``array``, or None."""
    obj = array
    while obj is not None:
        if isinstance(getattr(obj, "_mmap", None), mmap.mmap):
            return obj
        obj = getattr(obj, "base", None)
    return None


def check_mapping(owner: Any) -> None:
    """Raise :class:`MappedFileChangedError` when ``owner``'s file no longer covers its map.

    ``owner`` is a ``numpy.memmap`` as returned by :func:`memmap_of`.
    """
    mm = owner._mmap
    offset = int(getattr(owner, "offset", 0) or 0)
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    try:
        need = start + len(mm)
        size = mm.size()
    except (OSError, ValueError):  # a closed map, or no descriptor to ask: nothing to check
        return
    if size < need:
        name = getattr(owner, "filename", None) or "a memory-mapped file"
        raise MappedFileChangedError(
            f"{name} changed under the memory map: it now has {size:,} bytes but the mapped "
            f"rows need {need:,} (another process truncated or rewrote it in place). Reading "
            "them would crash the process, so amumo stopped: reopen it (am.Embeddings.load("
            "path, mmap=True) or am.Embeddings.open(folder)) once it is complete again."
        )


def check_mapped(array: np.ndarray) -> None:
    """:func:`check_mapping` for the map behind ``array``; a no-op for in-memory arrays."""
    owner = memmap_of(array)
    if owner is not None:
        check_mapping(owner)
