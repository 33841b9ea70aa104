"""Checking the rows of very large memory-mapped files as they are first read.

Opening a file of unit rows (``Embeddings.load(path, mmap=True)``, ``Embeddings.open``)
must refuse NaN / Inf and rows that are not unit length: they would give cosines such as
-1.6 and silently wrong metrics. Below :data:`DEFER_BYTES` per modality the whole file is
scanned when it is opened (:mod:`amumo.embeddings._mapped`). Above, that scan would read
everything once more before any work starts (10 GB per modality at ten million 512-d
float16 pairs: half a minute at 1.6 GB/s, more than the time to open allowed), so instead:

1. at open, :data:`SAMPLE_RUNS` runs of :data:`SAMPLE_RUN` consecutive rows spread evenly
   over the file are read and checked (a few MB, milliseconds); a bad row there means the
   file needs the full scan (and, for rows that are merely not unit length, the
   normalised copy), which then happens at once, as for a small file;
2. every other row is checked by the first pass that reads it: every blocked pass over
   memory-mapped rows hands each finished block to
   :func:`~amumo.embeddings._rows.release_rows` (and each gather goes through
   :func:`~amumo.embeddings._rows.take_rows`), which check the rows not yet checked
   (a norm per row of a block already in the page cache: +25 % on that one pass) and
   raise :class:`InvalidRowsError`, naming the rows and the fix, before any result of
   that pass is returned;
3. once every row has been checked, a record keyed by the file's identity (path,
   device, inode, size, modification and status-change times) is written to amumo's
   cache (``<cache dir>/checked/``), so later opens of the unchanged file skip even the
   sample and the per-block checks.

So no number computed from a bad row ever reaches the user, whatever the file size;
only *when* the error is raised differs (at open, or in the first pass over the bad
rows). ``check="full"`` (see :meth:`amumo.Embeddings.load`) forces the scan at open.

Examples
--------
>>> import numpy as np, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "rows.npy")
>>> rows = np.ones((6, 4), np.float32) / 2
>>> rows[4] = np.nan
>>> np.save(path, rows)
>>> mapped = np.load(path, mmap_mode="r")
>>> watch(mapped, "image", path, cache_dir=None, row_block=2)
>>> verify_rows(mapped, slice(0, 2))  # rows 0, 1: unit, checked once
>>> verify_rows(mapped, slice(4, 6))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
amumo.embeddings._checked.InvalidRowsError: rows 4 of modality 'image' in ...hold NaN or Inf...
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from amumo._util import atomic_write_bytes
from amumo.embeddings._map_guard import memmap_of

__all__ = [
    "DEFER_BYTES", "SAMPLE_RUNS", "SAMPLE_RUN", "CHECK_BLOCK", "InvalidRowsError",
    "RowCheck", "file_identity", "identity_key", "is_recorded", "sample_is_clean",
    "watch", "watcher", "verify_rows", "verify_gathered", "defer_mapped_rows",
]

#: Modalities of at least this many bytes on disk are checked as they are first read
#: (1 GiB: a million 512-d float16 rows); smaller ones are scanned when opened.
DEFER_BYTES = 1 << 30
#: Rows checked at open when the check is deferred: SAMPLE_RUNS runs of SAMPLE_RUN rows.
SAMPLE_RUNS = 256
SAMPLE_RUN = 64
#: Rows per unit of the "already checked" bookkeeping of a deferred check.
CHECK_BLOCK = 4096
_LISTED = 10


class InvalidRowsError(ValueError):
    """Rows of a memory-mapped embeddings file are NaN / Inf, zero or not unit length.

    Raised by the first pass that reads them when the file was too large to be scanned
    when it was opened (see :mod:`amumo.embeddings._checked`).
    """


def file_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What identifies one version of a file: resolved path, device, inode, size, and the
    modification and status-change times (only the kernel sets the latter, so a rewrite
    with the old mtime restored still changes the identity)."""
    path = Path(path)
    stat = path.stat()
    return {"path": str(path.resolve()), "dev": stat.st_dev, "ino": stat.st_ino,
            "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns}


def identity_key(path: str | os.PathLike[str], offset: int, shape: tuple[int, ...],
                 dtype: Any) -> str:
    """A short hex key of the rows ``shape``/``dtype`` at ``offset`` of ``path`` as it is now."""
    text = json.dumps([file_identity(path), int(offset), [int(s) for s in shape],
                       np.dtype(dtype).str], sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:24]


def _record_path(cache_dir: Any, key: str) -> Path:
    from amumo.embeddings.cache import resolve_cache_dir

    return resolve_cache_dir(cache_dir) / "checked" / f"{key}.json"


def is_recorded(cache_dir: Any, key: str) -> bool:
    """Whether every row of the source with this key was checked before (a cache record)."""
    try:
        return _record_path(cache_dir, key).is_file()
    except OSError:
        return False


def _bad_rows(block: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (in ``block``) of rows that are not finite, and of finite rows whose norm
    is not within ``tol`` of 1."""
    rows = np.asarray(block, dtype=np.float32)
    sq = np.einsum("ij,ij->i", rows, rows, dtype=np.float64)
    finite = np.isfinite(sq)
    if not finite.all():  # an overflowing square is finite data: look closer
        suspicious = np.flatnonzero(~finite)
        finite[suspicious] = np.isfinite(rows[suspicious]).all(axis=1)
    with np.errstate(invalid="ignore"):
        off = finite & ~(np.abs(np.sqrt(sq) - 1.0) <= tol)
    return np.flatnonzero(~finite), np.flatnonzero(off)


def sample_is_clean(path: str | os.PathLike[str], offset: int, shape: tuple[int, int],
                    dtype: Any, tol: float) -> bool:
    """Read :data:`SAMPLE_RUNS` runs of :data:`SAMPLE_RUN` rows spread evenly over the rows
    at ``offset`` of ``path`` (plain reads); True when all are finite and unit length."""
    n, d = shape
    dtype = np.dtype(dtype)
    row_bytes = d * dtype.itemsize
    starts = np.unique(np.linspace(0, max(0, n - SAMPLE_RUN), SAMPLE_RUNS).astype(np.int64))
    fd = os.open(path, os.O_RDONLY)
    try:
        for start in starts:
            count = int(min(SAMPLE_RUN, n - start))
            data = os.pread(fd, count * row_bytes, int(offset + start * row_bytes))
            if len(data) != count * row_bytes:
                return False
            block = np.frombuffer(data, dtype=dtype).reshape(count, d)
            bad, off = _bad_rows(block, tol)
            if len(bad) or len(off):
                return False
    finally:
        os.close(fd)
    return True


class RowCheck:
    """Which rows of one memory-mapped modality have been checked, and the check itself.

    Attached to the ``numpy.memmap`` it watches; :func:`verify_rows` and
    :func:`verify_gathered` find it from any view of that map.
    """

    def __init__(self, name: str, label: str, n: int, tol: float, key: str | None,
                 cache_dir: Any, row_block: int = CHECK_BLOCK) -> None:
        self.name = name
        self.label = label
        self.n = int(n)
        self.tol = float(tol)
        self.key = key
        self.cache_dir = cache_dir
        self.row_block = int(row_block)
        self.done = np.zeros(-(-self.n // self.row_block), dtype=bool)
        self.remaining = len(self.done)
        self._lock = threading.Lock()

    @property
    def complete(self) -> bool:
        return self.remaining == 0

    def fail(self, rows: np.ndarray, what: str) -> None:
        listed = ", ".join(str(int(r)) for r in rows[:_LISTED])
        more = f" (and {len(rows) - _LISTED} more in this block)" if len(rows) > _LISTED else ""
        fix = (
            "fix or remove those pairs and write the file again" if what == "nan" else
            "these rows are not unit length, which amumo maps only when they are: open it "
            "with check='full' (Embeddings.load(path, mmap=True, check='full')), which scans "
            "the whole file once and writes a normalised copy to the cache"
        )
        problem = "hold NaN or Inf" if what == "nan" else \
            f"are not unit length (tolerance {self.tol:g})"
        raise InvalidRowsError(
            f"rows {listed}{more} of modality {self.name!r} in {self.label} {problem}. Files "
            f"this large are checked as their rows are first read, not when opened (see "
            f"amumo.embeddings._checked), so this pass stopped before giving any result: {fix}."
        )

    def check(self, mapped: np.ndarray, first: int, last: int) -> None:
        """Check the blocks of rows ``first … last`` not checked yet (``mapped``: the map)."""
        b0, b1 = first // self.row_block, -(-last // self.row_block)
        if self.done[b0:b1].all():
            return
        for b in range(b0, b1):
            if self.done[b]:
                continue
            start = b * self.row_block
            stop = min(self.n, start + self.row_block)
            bad, off = _bad_rows(mapped[start:stop], self.tol)
            if len(bad):
                self.fail(start + bad, "nan")
            if len(off):
                self.fail(start + off, "unit")
            with self._lock:
                if not self.done[b]:
                    self.done[b] = True
                    self.remaining -= 1
                    finished = self.remaining == 0
                else:
                    finished = False
            if finished:
                self.record()

    def record(self) -> None:
        """Every row was checked: remember it for later opens (best effort)."""
        if self.key is None:
            return
        try:
            atomic_write_bytes(_record_path(self.cache_dir, self.key), json.dumps(
                {"source": self.label, "modality": self.name, "n": self.n}).encode())
        except OSError:  # a read-only cache: the next open samples and checks again
            pass


def watch(mapped: np.ndarray, name: str, label: str | os.PathLike[str], *, cache_dir: Any,
          key: str | None = None, tol: float | None = None, row_block: int = CHECK_BLOCK) -> None:
    """Check the rows of the ``numpy.memmap`` ``mapped`` as passes read them (see above)."""
    from amumo.embeddings._rows import unit_tolerance

    owner = memmap_of(mapped)
    if owner is None:
        raise TypeError("watch() needs a numpy.memmap of the rows.")
    owner._amumo_check = RowCheck(
        name, str(label), mapped.shape[0], unit_tolerance(mapped.dtype) if tol is None else tol,
        key, cache_dir, row_block,
    )


def watcher(array: Any) -> tuple[RowCheck, np.ndarray, int] | None:
    """The pending check of the map behind ``array``, the map, and the row of the map where
    ``array`` starts; None when nothing is left to check."""
    owner = memmap_of(array)
    check = getattr(owner, "_amumo_check", None) if owner is not None else None
    if check is None or check.complete or not isinstance(array, np.ndarray):
        return None
    row_bytes = owner.strides[0] if owner.ndim == 2 else 0
    if row_bytes <= 0 or array.ndim != 2 or array.strides[0] != row_bytes:
        return None
    first = (array.__array_interface__["data"][0] - owner.__array_interface__["data"][0])
    return check, owner, int(first // row_bytes)


def verify_rows(array: Any, rows: slice | None = None) -> None:
    """Check rows ``rows`` (default all) of ``array`` if they are part of a watched map and
    not checked yet; raise :class:`InvalidRowsError` for a bad one."""
    found = watcher(array)
    if found is None:
        return
    check, owner, first = found
    start, stop, _ = (rows or slice(None)).indices(array.shape[0])
    if stop > start:
        check.check(owner, first + start, first + stop)


def verify_gathered(array: Any, index: np.ndarray, gathered: np.ndarray) -> None:
    """Check rows just gathered from ``array`` (``gathered = array[index]``) when ``array`` is
    a watched map; the bookkeeping is by blocks, so scattered rows are checked each time."""
    found = watcher(array)
    if found is None or not len(index):
        return
    check, _, first = found
    bad, off = _bad_rows(gathered, check.tol)
    if len(bad):
        check.fail(first + np.asarray(index)[bad], "nan")
    if len(off):
        check.fail(first + np.asarray(index)[off], "unit")


def defer_mapped_rows(path: str | os.PathLike[str], mapped: np.ndarray, name: str, *,
                      cache_dir: Any) -> str | None:
    """For a file of unit rows written by amumo (a shard): how its rows are checked when
    they need not be scanned now ("earlier (cache record)" or "as rows are first read",
    after a clean sample), or None when the caller scans them now (below
    :data:`DEFER_BYTES`, or a bad row in the sample)."""
    if mapped.nbytes < DEFER_BYTES:
        return None
    from amumo.embeddings._rows import unit_tolerance

    owner = memmap_of(mapped)
    offset = int(getattr(owner, "offset", 0) or 0)
    key = identity_key(path, offset, mapped.shape, mapped.dtype)
    if is_recorded(cache_dir, key):
        return "earlier (cache record)"
    if not sample_is_clean(path, offset, mapped.shape, mapped.dtype,
                           unit_tolerance(mapped.dtype)):
        return None
    watch(mapped, name, path, cache_dir=cache_dir, key=key)
    return "as rows are first read"
