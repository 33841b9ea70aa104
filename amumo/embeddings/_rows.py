"""Row checks and normalisation in bounded memory (chunks of rows, never a whole float64 copy).

Everything here works one block of rows at a time, so validating or
normalising ``N × D`` embeddings costs the output array plus one block
(:data:`CHUNK_BYTES` of float64), whatever ``N`` is. Blocks come from an
in-memory (or memory-mapped) array, or straight from a file with ordinary
reads, which keep the pages out of the process's resident set (reading a
memory map would map every page in).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import numpy as np

from amumo.embeddings._checked import verify_gathered, verify_rows
from amumo.embeddings._map_guard import check_mapped, check_mapping, memmap_of

__all__ = [
    "CHUNK_BYTES",
    "ROW_BLOCK",
    "UNIT_TOL",
    "UNIT_TOL_FLOAT16",
    "STORAGE_DTYPES",
    "unit_tolerance",
    "storage_dtype",
    "chunk_rows",
    "prefetch_rows",
    "row_blocks",
    "RowScan",
    "file_blocks",
    "list_rows",
    "hash_rows",
    "npy_header",
    "release_rows",
    "take_rows",
    "empty_rows",
]

#: Target size of one block of rows in float64 when rows are checked and normalised on the
#: way in (8 MiB: 2,048 rows of 512 dims); sized in bytes because any D arrives there.
CHUNK_BYTES = 8 << 20
#: Rows per block of every O(N·D) pass of :mod:`amumo.analysis` (GapStats sums, the gap
#: shift, mitigations, neighbour and gap-axis scans): a float64 working set of
#: ``ROW_BLOCK × D × 8`` bytes, 16 MiB at D = 512. Block boundaries fix the float64
#: addition order, so the figures depend on it only in the last bits.
ROW_BLOCK = 4096
#: Rows whose norm is within this of 1 count as already normalised (float32 rounding
#: leaves ~1e-7); memory-mapped input that passes is used as is, zero-copy.
UNIT_TOL = 1e-5
#: The same for float16 storage: 11 significant bits round each value by up to 2^-11
#: relative, so a unit row stored as float16 has norm within ~5e-4 of 1 (2e-3 allows
#: for the subnormal tail of near-zero components).
UNIT_TOL_FLOAT16 = 2e-3
#: Dtypes unit rows may be stored in (files, shards, memory maps); metrics accumulate
#: in float64 and products run in float32 blocks whatever the storage.
STORAGE_DTYPES = ("float32", "float16")
_MAX_LISTED_ROWS = 10


def unit_tolerance(dtype: Any) -> float:
    """How far from 1 a stored unit row's norm may be: :data:`UNIT_TOL` (float32 and wider)
    or :data:`UNIT_TOL_FLOAT16`.

    >>> unit_tolerance(np.float16), unit_tolerance("float32")
    (0.002, 1e-05)
    """
    return UNIT_TOL if np.dtype(dtype).itemsize >= 4 else UNIT_TOL_FLOAT16


def storage_dtype(value: Any, argument: str = "dtype") -> np.dtype:
    """``value`` ("float32", "float16", a numpy dtype) as a storage dtype, else ValueError.

    >>> storage_dtype("float16")
    dtype('float16')
    """
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in STORAGE_DTYPES:
        raise ValueError(
            f"{argument}={value!r}; unit rows are stored as 'float32' (default) or 'float16' "
            "(half the disk and page cache, ~3 significant digits per value)."
        )
    return dtype


def list_rows(rows: np.ndarray) -> str:
    """``"3, 17, 40 (and 12 more)"`` for error messages."""
    shown = ", ".join(str(int(r)) for r in rows[:_MAX_LISTED_ROWS])
    more = len(rows) - _MAX_LISTED_ROWS
    return shown + (f" (and {more} more)" if more > 0 else "")


def unit_rows_or_fail(
    block: np.ndarray, start: int, failure: Callable[[int, int], str]
) -> np.ndarray:
    """``block`` with every row divided by its norm; the block holds rows ``start …`` of a
    larger array.

    A row of norm 0 has no direction: then ``ValueError(failure(count, first))`` is raised,
    with the number of such rows and the index of the first one in the whole array, so
    the caller's message can say what produced them and what to do.

    Examples
    --------
    >>> unit_rows_or_fail(np.array([[3.0, 4.0]]), 0, "{} zero rows, first {}".format)
    array([[0.6, 0.8]])
    >>> unit_rows_or_fail(np.zeros((2, 2)), 10, "{} zero rows, first {}".format)
    Traceback (most recent call last):
    ...
    ValueError: 2 zero rows, first 10
    """
    norms = np.linalg.norm(block, axis=1)
    zero = np.flatnonzero(norms == 0)
    if len(zero):
        raise ValueError(failure(len(zero), start + int(zero[0])))
    return block / norms[:, None]


def chunk_rows(dim: int, itemsize: int = 8, target: int = CHUNK_BYTES) -> int:
    """Rows per block so that one block of ``dim`` values of ``itemsize`` bytes is ~``target``.

    Examples
    --------
    >>> chunk_rows(512)
    2048
    """
    return max(1, int(target) // max(1, int(dim) * int(itemsize)))


def row_blocks(n: int, rows: int) -> Iterator[slice]:
    """Consecutive slices of at most ``rows`` rows covering ``range(n)``.

    >>> [(s.start, s.stop) for s in row_blocks(5, 2)]
    [(0, 2), (2, 4), (4, 5)]
    """
    for start in range(0, int(n), max(1, int(rows))):
        yield slice(start, min(int(n), start + int(rows)))


class RowScan:
    """Collects per-row norms and the rows that are non-finite or zero, block by block.

    Call :meth:`add` with consecutive blocks, then :meth:`raise_if_bad` and read
    :attr:`norms` (float64, one per row).
    """

    def __init__(self, name: str, n: int) -> None:
        self.name = name
        self.norms = np.empty(int(n), dtype=np.float64)
        self._nonfinite: list[np.ndarray] = []
        self._zero: list[np.ndarray] = []

    def add(self, start: int, block: np.ndarray, *, exact: bool = True) -> None:
        """Record rows ``start … start + len(block)``.

        ``exact=True`` computes norms in float64; ``exact=False`` squares in the
        block's own dtype (fast, float32 accurate) and re-checks the rare rows
        whose float32 sum over- or underflows in float64.
        """
        if exact:
            b64 = np.asarray(block, dtype=np.float64)
            sq = np.einsum("ij,ij->i", b64, b64)
            finite = np.isfinite(b64).all(axis=1)
        else:
            sq = np.einsum("ij,ij->i", block, block).astype(np.float64)
            finite = np.isfinite(sq)
            suspicious = np.flatnonzero(~finite | (sq == 0))
            if len(suspicious):
                rows = np.asarray(block[suspicious], dtype=np.float64)
                finite[suspicious] = np.isfinite(rows).all(axis=1)
                with np.errstate(over="ignore", invalid="ignore"):
                    sq[suspicious] = np.linalg.norm(rows, axis=1) ** 2
        norms = np.sqrt(sq)
        self.norms[start : start + len(block)] = norms
        if not finite.all():
            self._nonfinite.append(start + np.flatnonzero(~finite))
        zero = finite & (norms == 0)
        if zero.any():
            self._zero.append(start + np.flatnonzero(zero))

    def raise_if_bad(self) -> None:
        """ValueError naming the rows that are NaN/Inf or all zero, with the fix."""
        if self._nonfinite:
            bad = np.concatenate(self._nonfinite)
            raise ValueError(
                f"arrays[{self.name!r}] has NaN or Inf in {len(bad)} row(s): {list_rows(bad)}; "
                "fix or remove those pairs (e.g. emb.subset(...)) before building Embeddings."
            )
        if self._zero:
            bad = np.concatenate(self._zero)
            raise ValueError(
                f"arrays[{self.name!r}] has {len(bad)} all-zero row(s): {list_rows(bad)}; a "
                "zero vector has no direction and cannot be normalised. Remove those pairs first."
            )

    def is_unit(self, tol: float = UNIT_TOL) -> bool:
        """Whether every row already has norm 1 within ``tol``."""
        return bool(np.all(np.abs(self.norms - 1.0) <= tol))


def file_blocks(
    handle: BinaryIO, offset: int, n: int, d: int, dtype: np.dtype
) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, block)`` pairs read from ``handle`` at ``offset`` (C-ordered rows).

    One reusable buffer of about 16 MiB; blocks are only valid
    until the next one is read.
    """
    dtype = np.dtype(dtype)
    rows = chunk_rows(d, dtype.itemsize, 16 << 20)
    buffer = np.empty((rows, d), dtype=dtype)
    handle.seek(offset)
    for sl in row_blocks(n, rows):
        count = sl.stop - sl.start
        view = buffer[:count]
        got = handle.readinto(memoryview(view).cast("B"))
        if got != view.nbytes:
            done = sl.start + got // (d * dtype.itemsize)
            raise ValueError(
                f"{getattr(handle, 'name', 'file')} ended after {done} of {n} rows; the "
                "file is truncated: copy or regenerate it."
            )
        yield sl.start, view


def hash_rows(digest: Any, array: np.ndarray) -> None:
    """Feed the C-ordered bytes of ``array`` into a hashlib ``digest`` one block at a time."""
    check_mapped(array)
    if array.ndim != 2:
        digest.update(np.ascontiguousarray(array).tobytes())
        return
    for rows in row_blocks(array.shape[0], chunk_rows(array.shape[1], array.dtype.itemsize)):
        digest.update(memoryview(np.ascontiguousarray(array[rows])).cast("B"))
        release_rows(array, rows)


def npy_header(handle: BinaryIO) -> tuple[tuple[int, ...], np.dtype, bool]:
    """Read a ``.npy`` header at the handle's position: shape, dtype, Fortran order.

    The handle is left at the first data byte.
    """
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(f".npy format version {version} is not supported for memory mapping.")
    return tuple(shape), np.dtype(dtype), bool(fortran)


def _mapping(array: np.ndarray) -> tuple[Any, int] | None:
    """The read-only ``mmap`` behind ``array`` and the address where that mapping starts.

    Raises :class:`~amumo.embeddings._map_guard.MappedFileChangedError` when the
    mapped file has shrunk since (reading on would end the process with SIGBUS).
    """
    obj = memmap_of(array)
    if obj is None:
        return None
    check_mapping(obj)
    if getattr(obj, "mode", "r") != "r":
        return None  # copy-on-write / writable maps: dropping pages could lose data
    mm = obj._mmap
    base = np.frombuffer(mm, dtype=np.uint8, count=1).__array_interface__["data"][0]
    return mm, base


def release_rows(array: np.ndarray, rows: slice | None = None) -> None:
    """Drop the pages of a read-only memory-mapped ``array`` (or of ``rows`` of it) from RSS.

    After a block of a memory-mapped file has been read, its pages stay mapped
    into the process and count as resident memory until the kernel reclaims
    them. ``MADV_DONTNEED`` unmaps them at once; the data stay in the page cache
    and the next access maps them back (a minor fault). Passes over memory-mapped
    embeddings call this after each block, so their resident memory stays about
    one block. A no-op for in-memory arrays, non-contiguous views and platforms
    without ``madvise``.

    Before the next block is read it also checks that the mapped file still covers
    the map (:mod:`amumo.embeddings._map_guard`): a file truncated by another process
    mid-pass raises ``MappedFileChangedError`` here instead of SIGBUS in the next read.
    """
    import mmap

    if not isinstance(array, np.ndarray):  # rows computed on read (amumo.embeddings._lazy)
        release = getattr(array, "release", None)
        if release is not None:
            release(rows)
        return
    if rows is not None:  # a very large file: its rows are checked by the first pass
        verify_rows(array, rows)
    if not hasattr(mmap, "MADV_DONTNEED") or not array.flags.c_contiguous:
        check_mapped(array)  # no pages to drop, but the next block must still be readable
        return
    found = _mapping(array)
    if found is None:
        return
    mm, base = found
    part = array if rows is None else array[rows]
    if part.size == 0:
        return
    start = part.__array_interface__["data"][0] - base
    stop = start + part.nbytes
    page = mmap.PAGESIZE
    first = -(-start // page) * page
    last = (stop // page) * page
    if last > first and first >= 0 and last <= len(mm):
        try:
            mm.madvise(mmap.MADV_DONTNEED, first, last - first)
        except (OSError, ValueError):  # pragma: no cover - best effort
            pass


#: Rows of a scattered gather whose pages are asked for at once (:func:`prefetch_rows`).
PREFETCH_ROWS = 65_536


def prefetch_rows(array: np.ndarray, index: np.ndarray) -> int:
    """Ask the OS to read the pages holding rows ``index`` of a memory-mapped ``array``
    now, all at once (``MADV_WILLNEED``), and return the number of page ranges asked for.

    A gather from a cold file otherwise faults its rows in one at a time, each fault a
    disk read that waits for the one before: a spread sample of 100,000 pairs of a
    20 GB file (1,563 runs of 64 rows per modality) took 9.2 s cold. Asked for
    together, the reads overlap on the device and the same gather took 0.9 s
    (``benchmarks/README.md``). Only the pages of the rows are read (not the 128 KiB
    read-around of a fault), into the page cache: nothing is mapped, so resident memory
    does not grow. A no-op (0) for arrays in memory and platforms without ``madvise``.

    Examples
    --------
    >>> prefetch_rows(np.zeros((4, 2)), np.array([0, 3]))  # in memory: nothing to ask
    0
    """
    import mmap

    index = np.asarray(index)
    if not len(index) or not hasattr(mmap, "MADV_WILLNEED") or not array.flags.c_contiguous:
        return 0
    found = _mapping(array)
    if found is None:
        return 0
    mm, base = found
    page = mmap.PAGESIZE
    offset = array.__array_interface__["data"][0] - base
    row = array.strides[0]  # bytes per row (C-contiguous)
    rows = index.astype(np.int64).ravel()
    n = array.shape[0]
    rows = np.where(rows < 0, rows + n, rows)  # numpy's negative indices; others raise later
    rows = np.unique(rows[(rows >= 0) & (rows < n)])
    if not len(rows):
        return 0
    first = (offset + rows * row) // page
    last = (offset + (rows + 1) * row - 1) // page + 1
    # Rows whose pages touch or overlap form one range (rows are sorted: so are pages).
    starts = np.flatnonzero(np.r_[True, first[1:] > last[:-1]])
    ends = np.r_[starts[1:] - 1, len(rows) - 1]
    size = len(mm)
    for lo, hi in zip(first[starts].tolist(), last[ends].tolist(), strict=True):
        lo, hi = lo * page, min(hi * page, size)
        if hi > lo:
            try:
                mm.madvise(mmap.MADV_WILLNEED, lo, hi - lo)
            except (OSError, ValueError):  # only advice: the gather reads the rows anyway
                return 0
    return len(starts)


def take_rows(array: np.ndarray, index: np.ndarray, dtype: Any = None,
              chunk: int = 512) -> np.ndarray:
    """``array[index]`` (a copy, optionally cast) that keeps a memory map's RSS small.

    Gathering scattered rows of a memory-mapped file faults in whole
    neighbourhoods of pages (read-ahead / fault-around): 1,000 random rows of a
    400 MB file mapped nearly all of it. Rows are gathered ``chunk`` at a time
    and the mapping's pages dropped after each chunk (:func:`release_rows`).
    """
    index = np.asarray(index)
    if not isinstance(array, np.ndarray):  # rows computed on read (amumo.embeddings._lazy)
        rows = array.take(index)
        return rows if dtype is None else rows.astype(dtype, copy=False)
    out = np.empty((len(index),) + array.shape[1:], dtype=array.dtype if dtype is None else dtype)
    mapped = _mapping(array) is not None
    step = chunk if mapped else max(1, len(index))
    window = max(step, PREFETCH_ROWS // step * step)
    for start in range(0, len(index), step):
        if mapped and start % window == 0:  # the next window's pages asked for at once
            prefetch_rows(array, index[start : start + window])
        out[start : start + step] = array[index[start : start + step]]
        if mapped:
            verify_gathered(array, index[start : start + step], out[start : start + step])
            release_rows(array)
    return out


#: From this many bytes :func:`empty_rows` asks for transparent huge pages.
HUGE_BYTES = 64 << 20


def empty_rows(n: int, d: int, dtype: Any = np.float32) -> np.ndarray:
    """An uninitialised ``(n, d)`` array for a large result written once, row block by block.

    From :data:`HUGE_BYTES` on (Linux) the memory is an anonymous mapping advised
    ``MADV_HUGEPAGE``: a fresh 2 GB float32 result is then faulted in by ~1,000
    huge pages instead of ~500,000 small ones, which made the first pass of
    :func:`amumo.close_gap` at a million pairs 20 % faster (1.46 → 1.19 s per
    modality). Elsewhere, or when advice is refused, it is ``np.empty``. Either way
    it behaves as an ordinary writable in-memory array (never a file mapping, so
    :func:`release_rows` leaves it alone).

    Examples
    --------
    >>> a = empty_rows(3, 2)
    >>> a.shape, a.dtype.name, a.flags.writeable
    ((3, 2), 'float32', True)
    """
    import mmap

    dtype = np.dtype(dtype)
    count = int(n) * int(d)
    nbytes = count * dtype.itemsize
    if nbytes < HUGE_BYTES or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.empty((int(n), int(d)), dtype=dtype)
    try:
        buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        buf.madvise(mmap.MADV_HUGEPAGE)
    except (OSError, ValueError, AttributeError):  # pragma: no cover - platform refuses
        return np.empty((int(n), int(d)), dtype=dtype)
    return np.frombuffer(buf, dtype=dtype, count=count).reshape(int(n), int(d))
