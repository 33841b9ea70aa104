"""Similarity-matrix views for the browser: pooled overview and exact windows.

The matrix is ``am.similarity`` (cosine of unit rows) in display order. The overview
of an ``n × n`` matrix at ``P × P`` pixels averages the cells of each block; since
cosine similarity of unit rows is bilinear, the mean over rows ``I`` and columns ``J``
is ``mean(x_I) · mean(x_J)``, so the overview is computed from ``P`` block means in
``O(n·D + P²·D)`` without ever forming the ``n × n`` matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from amumo.embeddings._rows import release_rows, take_rows
from amumo.embeddings.container import Embeddings

__all__ = [
    "DisplayRows", "display_rows", "block_edges", "pooled", "window", "auto_scale", "quantise",
]


class DisplayRows:
    """The ``(M·N, D)`` rows of the matrix in display order, without copying them.

    Modality blocks in order, each block permuted by ``order``; rows are gathered from
    the embeddings (in RAM or memory-mapped) only when indexed, so a view of a million
    pairs holds no second copy of its embeddings. Supports ``len``, ``shape``, ``dtype``
    and indexing by an int, a slice or an integer array (returning float32 arrays).

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> rows = display_rows(emb, np.arange(500)[::-1])
    >>> rows.shape
    (1000, 512)
    >>> bool(np.array_equal(rows[500], emb["text"][499]))
    True
    """

    def __init__(self, emb: Embeddings, order: np.ndarray | None = None) -> None:
        self._blocks = [emb[m] for m in emb.modalities]
        self._order = None if order is None else np.asarray(order, dtype=np.int64)
        self.n_pairs = len(emb)
        self.shape = (len(self._blocks) * self.n_pairs, int(emb.dim))
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def _gather(self, index: np.ndarray) -> np.ndarray:
        n = self.n_pairs
        index = np.asarray(index, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= self.shape[0]):
            raise IndexError(f"row index outside 0..{self.shape[0] - 1}.")
        block, pair = np.divmod(index, n)
        if self._order is not None:
            pair = self._order[pair]
        out = np.empty((len(index), self.shape[1]), dtype=np.float32)
        for k, rows in enumerate(self._blocks):
            mask = block == k
            if mask.any():
                out[mask] = take_rows(rows, pair[mask])  # no read-ahead of a memory map
        return out

    def __getitem__(self, key: Any) -> np.ndarray:
        n = self.n_pairs
        if isinstance(key, (int, np.integer)):
            i = int(key) + (self.shape[0] if key < 0 else 0)
            return self._gather(np.array([i]))[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step == 1 and self._order is None and stop > start and start // n == (stop - 1) // n:
                k = start // n  # inside one modality block: a view, no copy
                return np.asarray(self._blocks[k][start - k * n : stop - k * n], dtype=np.float32)
            return self._gather(np.arange(start, stop, step))
        return self._gather(np.asarray(key))

    def release(self, start: int, stop: int) -> None:
        """Drop from RSS the memory-mapped pages read for rows ``start … stop``
        (:func:`~amumo.embeddings._rows.release_rows`; a no-op for arrays in RAM).
        Rows gathered in a cluster order are scattered, so then every mapped page goes."""
        n = self.n_pairs
        for k, block in enumerate(self._blocks):
            if self._order is not None:
                release_rows(block)
                continue
            lo, hi = max(start, k * n), min(stop, (k + 1) * n)
            if lo < hi:
                release_rows(block, slice(lo - k * n, hi - k * n))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self._gather(np.arange(self.shape[0]))
        return out if dtype is None else out.astype(dtype, copy=False)


def display_rows(emb: Embeddings, order: np.ndarray | None = None) -> DisplayRows:
    """The ``(M·N, D)`` rows in display order (modality blocks, each permuted by ``order``),
    as a lazy :class:`DisplayRows`: nothing is copied until rows are indexed."""
    return DisplayRows(emb, order)


def block_edges(n: int, size: int) -> np.ndarray:
    """Edges ``e_0 = 0 < ... < e_P = n`` of ``P = min(n, size)`` nearly equal blocks.

    Block ``k`` holds items ``floor(k·n/P) ... floor((k+1)·n/P) − 1``, so item ``i``
    belongs to block ``floor(i·P/n)`` exactly when drawn with a uniform scale."""
    p = min(n, size)
    return (np.arange(p + 1, dtype=np.int64) * n) // p


def pooled(rows: np.ndarray | DisplayRows, size: int, chunk: int = 8192) -> np.ndarray:
    """Mean similarity of every block pair: ``(P, P)`` float32, ``P = min(n, size)``.

    Above ``size`` rows the block sums are accumulated ``chunk`` rows at a time, so
    memory stays ``O(chunk·D + P·D)`` whatever ``n`` (no float64 copy of the rows, no
    ``n × n`` matrix). Within a chunk the rows of each block are summed by one float32
    product with a 0/1 membership matrix (BLAS; the overview is quantised to 256 levels,
    so float32 sums of ≤ ``chunk`` rows are far below what can be seen), across chunks
    in float64. At a million pairs this is 1 s instead of 8 s for ``np.add.reduceat``
    over float64 copies."""
    n = rows.shape[0]
    if n <= size:
        dense = np.asarray(rows[0:n], dtype=np.float32)
        sim = dense @ dense.T
        np.clip(sim, -1.0, 1.0, out=sim)
        np.fill_diagonal(sim, 1.0)
        return sim.astype(np.float32, copy=False)
    edges = block_edges(n, size)
    sums = np.zeros((len(edges) - 1, rows.shape[1]), dtype=np.float64)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        block = np.asarray(rows[start:stop], dtype=np.float32)
        owner = np.searchsorted(edges, np.arange(start, stop), side="right") - 1
        first = int(owner[0])
        member = np.zeros((int(owner[-1]) - first + 1, stop - start), dtype=np.float32)
        member[owner - first, np.arange(stop - start)] = 1.0
        sums[first : first + len(member)] += member @ block
        if isinstance(rows, DisplayRows):  # memory-mapped rows: RSS of one chunk
            rows.release(start, stop)
        else:
            release_rows(rows, slice(start, stop))
    means = sums / np.diff(edges)[:, None]
    out = (means @ means.T).astype(np.float32)
    np.clip(out, -1.0, 1.0, out=out)
    return out


def window(rows: np.ndarray, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Exact cells ``[r0, r1) × [c0, c1)`` of the display-order matrix, float32."""
    n = rows.shape[0]
    if not (0 <= r0 < r1 <= n and 0 <= c0 < c1 <= n):
        raise ValueError(f"window [{r0}, {r1}) x [{c0}, {c1}) is outside the {n} x {n} matrix.")
    block = rows[r0:r1] @ rows[c0:c1].T
    np.clip(block, -1.0, 1.0, out=block)
    lo, hi = max(r0, c0), min(r1, c1)
    if lo < hi:
        idx = np.arange(lo, hi)
        block[idx - r0, idx - c0] = 1.0
    return block.astype(np.float32, copy=False)


def auto_scale(
    overview: np.ndarray, rows: np.ndarray, seed: int = 0, max_columns: int = 4096
) -> tuple[float, float]:
    """Colour range: from the smallest value seen (overview, and exact cells of a seeded
    sample of 256 rows against at most ``max_columns`` seeded columns, floored to 0.05)
    up to 1 (the diagonal). Cost ``O(256 · max_columns · D)`` whatever ``n``: it runs on
    every λ step, since the range follows the shown data."""
    n = rows.shape[0]
    if overview.shape[0] == n:  # the overview holds every cell: its minimum is exact
        low = float(overview.min())
    else:
        rng = np.random.default_rng(seed)
        sample = rows[np.sort(rng.choice(n, size=min(n, 256), replace=False))]
        columns = np.asarray(rows[0:n]) if n <= max_columns else rows[
            np.sort(rng.choice(n, size=max_columns, replace=False))
        ]
        low = min(float(overview.min()), float((sample @ columns.T).min()))
    lo = np.floor(max(-1.0, low) / 0.05) * 0.05
    return float(min(lo, 0.95)), 1.0


def quantise(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``[lo, hi]`` to codes 0..255 (clipped), uint8."""
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    codes = np.rint((values - lo) * scale)
    np.clip(codes, 0, 255, out=codes)
    return codes.astype(np.uint8)
