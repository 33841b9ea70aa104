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
    "OverviewSums",
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

    def stored_parts(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each modality's stored rows with the display row of every one of them."""
        n = self.n_pairs
        position = np.arange(n, dtype=np.int64)
        if self._order is not None:
            position = np.empty(n, dtype=np.int64)
            position[self._order] = np.arange(n, dtype=np.int64)  # display slot of a pair
        return [(block, k * n + position) for k, block in enumerate(self._blocks)]

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

    Above ``size`` rows only the block means of the rows are needed (the mean of a block
    of ``S = X Xᵀ`` is the product of two block means), and they are accumulated ``chunk``
    rows at a time in the order the rows are **stored** — contiguous reads of a memory
    map, its pages released behind — whatever the display order: each stored row is
    added to the display block it is drawn in by one sparse 0/1 product per chunk (float32
    within a chunk, float64 across chunks; the overview is quantised to 256 levels).
    Memory ``O(chunk·D + P·D)``; no ``n × n`` matrix. At a million pairs: 0.5 s in storage
    order and about as much in a cluster order (gathering rows in display order took
    16 s; ``np.add.reduceat`` over float64 copies 8 s)."""
    n = rows.shape[0]
    if n <= size:
        dense = np.asarray(rows[0:n], dtype=np.float32)
        sim = dense @ dense.T
        np.clip(sim, -1.0, 1.0, out=sim)
        np.fill_diagonal(sim, 1.0)
        return sim.astype(np.float32, copy=False)
    edges = block_edges(n, size)
    if isinstance(rows, DisplayRows):
        parts = rows.stored_parts()
    else:
        parts = [(rows, np.arange(n))]
    sums = _block_sums(parts, edges, rows.shape[1], chunk)
    means = sums / np.diff(edges)[:, None]
    out = (means @ means.T).astype(np.float32)
    np.clip(out, -1.0, 1.0, out=out)
    return out


def _block_sums(
    parts: list[tuple[np.ndarray, np.ndarray]], edges: np.ndarray, dim: int, chunk: int
) -> np.ndarray:
    """Float64 sums of the rows in each display block ``[edges[p], edges[p+1])``.

    ``parts``: ``(stored rows, display position of each stored row)``, read in storage
    order ``chunk`` rows at a time."""
    from scipy import sparse

    sums = np.zeros((len(edges) - 1, dim), dtype=np.float64)
    for stored, position in parts:
        owner = np.searchsorted(edges, position, side="right") - 1
        for start in range(0, len(stored), chunk):
            stop = min(len(stored), start + chunk)
            block = np.asarray(stored[start:stop], dtype=np.float32)
            member = sparse.csr_matrix(
                (np.ones(stop - start, dtype=np.float32),
                 (owner[start:stop], np.arange(stop - start))),
                shape=(len(sums), stop - start),
            )
            sums += member @ block
            release_rows(stored, slice(start, stop))  # memory-mapped rows: RSS of one chunk
    return sums


class OverviewSums:
    """Consumer of :class:`amumo.analysis.streaming.RowPass`: the overview of
    :func:`pooled` built in a pass that also serves other views (ten million pairs are
    read once for the overview and the scatter coordinates together).

    Each stored row (modality ``k``, pair ``i``) is added to the display block it is drawn
    in (pair order, or ``order`` as in :func:`display_rows`), one sparse 0/1 product per
    block of rows; :meth:`merge` turns the block sums into the ``(P, P)`` overview.
    """

    def __init__(self, n: int, n_modalities: int, size: int,
                 order: np.ndarray | None = None) -> None:
        total = n * n_modalities
        self.n, self.m = int(n), int(n_modalities)
        self.edges = block_edges(total, size)
        slot = np.arange(n, dtype=np.int64)
        if order is not None:
            slot = np.empty(n, dtype=np.int64)
            slot[np.asarray(order, dtype=np.int64)] = np.arange(n, dtype=np.int64)
        self.owner = [
            (np.searchsorted(self.edges, k * n + slot, side="right") - 1).astype(np.int32)
            for k in range(n_modalities)
        ]
        self.dim: int | None = None

    def part(self) -> dict[str, Any]:
        return {"sums": None}

    def add(self, state: dict[str, Any], rows: slice, blocks: list[np.ndarray]) -> None:
        from scipy import sparse

        count = rows.stop - rows.start
        for k, block in enumerate(blocks):
            if state["sums"] is None:
                state["sums"] = np.zeros((len(self.edges) - 1, block.shape[1]))
            member = sparse.csr_matrix(
                (np.ones(count, dtype=np.float32), (self.owner[k][rows], np.arange(count))),
                shape=(len(self.edges) - 1, count),
            )
            state["sums"] += member @ block

    def merge(self, states: list[dict[str, Any]]) -> np.ndarray:
        sums = None
        for state in states:  # range order
            if state["sums"] is not None:
                sums = state["sums"] if sums is None else sums + state["sums"]
        assert sums is not None
        means = sums / np.diff(self.edges)[:, None]
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
