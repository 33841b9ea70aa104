"""Rows computed when they are read: shifted / mitigated embeddings too large to copy.

Closing the gap of ten million 512-d pairs with a float32 copy of the moved rows would
need 41 GB of RAM. Every such transformation is a per-row map followed by
re-normalisation (a shift along the gap, a mean subtraction, a per-dimension
standardisation: :mod:`amumo.analysis.gap`, :mod:`amumo.analysis.mitigate`), so
:class:`LazyRows` keeps the *source* rows (usually memory-mapped) and the list of
:class:`Step` s and applies them to each block when a pass reads it. Passes read blocks
anyway (:func:`~amumo.embeddings._rows.row_blocks`, ``take_rows``, ``release_rows``), so
they accept a LazyRows wherever they accept a memory map: slicing gives float32 rows,
``take_rows`` gathers, ``release_rows`` drops the source's pages.

The arithmetic is that of the eager functions, step for step, so a LazyRows gives the
same float32 rows bit for bit as the array the eager function would have stored
(tested), only later and without the copy. Costs: each read of a block pays its steps
(about 1.5 ms per step per 4,096 × 512 block, plus a float16 source's cast), and memory
is the source's pages plus one block.

A LazyRows is not a numpy array: functions that need the whole array at once
(``np.asarray(rows)``) get one only while it is small (:data:`MATERIALISE_LIMIT`),
otherwise a MemoryError says to read it in blocks.

Examples
--------
>>> import numpy as np
>>> x = np.eye(3, dtype=np.float32)
>>> rows = LazyRows(x).then(Step("shift", np.array([1.0, 0, 0])))
>>> rows.shape, rows.dtype
((3, 3), dtype('float32'))
>>> [round(float(v), 3) for v in rows[1]]
[0.707, 0.707, 0.0]
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amumo.embeddings._rows import release_rows, take_rows, unit_rows_or_fail

__all__ = ["Step", "LazyRows", "shift_block", "affine_block", "MATERIALISE_LIMIT",
           "LAZY_BYTES", "is_lazy"]

#: A LazyRows turns into a numpy array (``np.asarray``) only up to this many bytes.
MATERIALISE_LIMIT = 1 << 30
#: Derived rows (close_gap, shift, mitigate) whose float32 copy would exceed this many
#: bytes are kept as LazyRows (5 GiB: a million 512-d pairs, 4.1 GB, are still copied).
LAZY_BYTES = 5 << 30


def _zero_message(where: str) -> Callable[[int, int], str]:
    return lambda count, first: (
        f"{where} moves {count} row(s) (first: {first}) exactly onto the origin, where they "
        "have no direction; remove those pairs or use another value."
    )


def shift_block(
    rows: np.ndarray, offset: np.ndarray, scale: float = 1.0, start: int = 0,
    on_zero: Callable[[int, int], str] | None = None,
) -> np.ndarray:
    """``unit(rows / scale + offset)`` of one block as float32 (the gap shift's arithmetic).

    ``scale == 1``: float32 arithmetic (the stored precision); rows moved onto or next to
    the origin take the careful float64 path. Otherwise float64 (huge λ).
    """
    message = on_zero or _zero_message("the shift along the gap")
    if scale == 1.0:
        block = np.add(rows, np.asarray(offset, dtype=np.float32), dtype=np.float32)
        sq = np.einsum("ij,ij->i", block, block)
        if np.all(sq > 1e-30) and np.all(np.isfinite(sq)):
            block /= np.sqrt(sq)[:, None]
            return block
        return unit_rows_or_fail(block.astype(np.float64), start, message).astype(np.float32)
    block = np.asarray(rows, dtype=np.float64)
    block /= scale
    block += offset
    return unit_rows_or_fail(block, start, message).astype(np.float32)


def affine_block(
    rows: np.ndarray, offset: np.ndarray, scale: np.ndarray | None = None, start: int = 0,
    on_zero: Callable[[int, int], str] | None = None,
) -> np.ndarray:
    """``unit((rows − offset) / scale)`` of one block in float64, as float32 (a mitigation)."""
    block = np.asarray(rows, dtype=np.float64) - offset
    if scale is not None:
        block /= scale
    return unit_rows_or_fail(block, start, on_zero or _zero_message("the mitigation")
                             ).astype(np.float32)


@dataclass(frozen=True)
class Step:
    """One per-row map + re-normalisation.

    ``kind="shift"``: :func:`shift_block` (``offset`` added, ``scale`` a float);
    ``kind="affine"``: :func:`affine_block` (``offset`` subtracted, ``scale`` None or a
    per-dimension vector). ``where`` names the operation in errors.
    """

    kind: str
    offset: np.ndarray
    scale: Any = 1.0
    where: str = "the shift along the gap"
    _digest: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ("shift", "affine"):
            raise ValueError(f"Step kind={self.kind!r} must be 'shift' or 'affine'.")
        digest = hashlib.sha1(self.kind.encode())
        digest.update(np.ascontiguousarray(self.offset, dtype=np.float64).tobytes())
        scale = self.scale if self.scale is not None else 0.0
        digest.update(np.ascontiguousarray(scale, dtype=np.float64).tobytes())
        object.__setattr__(self, "_digest", digest.hexdigest())

    def apply(self, rows: np.ndarray, start: int = 0) -> np.ndarray:
        message = _zero_message(self.where)
        if self.kind == "shift":
            return shift_block(rows, self.offset, float(self.scale), start, message)
        return affine_block(rows, self.offset, self.scale, start, message)


class LazyRows:
    """``(N, D)`` float32 unit rows = ``steps`` applied to ``source`` rows when read.

    Parameters
    ----------
    source : ndarray (N, D)
        Unit rows (in memory or memory-mapped; float16 or float32).
    steps : sequence of Step
        Applied in order to every block read.
    """

    def __init__(self, source: np.ndarray, steps: Sequence[Step] = ()) -> None:
        if isinstance(source, LazyRows):
            steps = [*source.steps, *steps]
            source = source.source
        self.source = source
        self.steps = tuple(steps)
        self.shape = (int(source.shape[0]), int(source.shape[1]))
        self.dtype = np.dtype(np.float32)
        self.ndim = 2

    # ------------------------------------------------------------------ shape
    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self) -> int:
        """Bytes of the float32 rows if they were materialised."""
        return self.size * 4

    def then(self, step: Step) -> LazyRows:
        """These rows followed by one more step (a new LazyRows)."""
        return LazyRows(self.source, [*self.steps, step])

    def __repr__(self) -> str:
        return f"LazyRows({self.shape[0]:,} x {self.shape[1]}, {len(self.steps)} step(s))"

    # ------------------------------------------------------------------ reading
    def _apply(self, rows: np.ndarray, start: int = 0) -> np.ndarray:
        block = np.asarray(rows, dtype=np.float32) if not self.steps else rows
        for step in self.steps:
            block = step.apply(block, start)
        return np.asarray(block, dtype=np.float32)

    def block(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start … stop`` as float32 (one read of the source block)."""
        return self._apply(self.source[start:stop], start)

    def take(self, index: Any) -> np.ndarray:
        """Rows at ``index`` (integers, any order) as float32."""
        index = np.asarray(index)
        if index.dtype == np.bool_:
            index = np.flatnonzero(index)
        return self._apply(take_rows(self.source, index))

    def release(self, rows: slice | None = None) -> None:
        """Drop the source's pages of ``rows`` (memory-mapped source)."""
        release_rows(self.source, rows)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):
            rows, *rest = key
            out = self[rows]
            return out[(slice(None), *rest)] if out.ndim == 2 else out[tuple(rest)]
        if isinstance(key, (int, np.integer)):
            i = int(key) + (self.shape[0] if key < 0 else 0)
            if not 0 <= i < self.shape[0]:
                raise IndexError(f"row {key} is out of range for {self.shape[0]} rows.")
            return self.block(i, i + 1)[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step == 1:
                return self.block(start, max(start, stop))
            return self.take(np.arange(start, stop, step))
        return self.take(key)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self.nbytes > MATERIALISE_LIMIT:
            raise MemoryError(
                f"these {self.shape[0]:,} x {self.shape[1]} rows are computed when read "
                f"(amumo.embeddings._lazy: {self.nbytes / 1e9:.1f} GB as float32); read them "
                "in blocks (rows[i:j]) or gather a subset (emb.subset(...)) instead of "
                "converting them whole."
            )
        out = self.block(0, self.shape[0])
        return out if dtype is None else out.astype(dtype, copy=False)

    def astype(self, dtype: Any, copy: bool = True) -> np.ndarray:
        return np.asarray(self, dtype=dtype)

    def identity(self) -> str:
        """A stand-in for the rows' bytes (Embeddings.fingerprint): the source's identity
        (or a hash of its bytes when it is small) and the steps."""
        from amumo.embeddings._rows import hash_rows
        from amumo.embeddings.container import _stored_identity

        source = _stored_identity(self.source)
        if source is None:
            digest = hashlib.sha1()
            hash_rows(digest, self.source)
            source = digest.hexdigest()
        return "lazy:" + source + ":" + ",".join(step._digest for step in self.steps)


def is_lazy(array: Any) -> bool:
    """Whether ``array`` is rows computed on read (:class:`LazyRows`)."""
    return isinstance(array, LazyRows)
