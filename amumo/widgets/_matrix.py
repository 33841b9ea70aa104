"""Similarity-matrix views for the browser: pooled overview and exact windows.

The matrix is ``am.similarity`` (cosine of unit rows) in display order. The overview
of an ``n × n`` matrix at ``P × P`` pixels averages the cells of each block; since
cosine similarity of unit rows is bilinear, the mean over rows ``I`` and columns ``J``
is ``mean(x_I) · mean(x_J)``, so the overview is computed from ``P`` block means in
``O(n·D + P²·D)`` without ever forming the ``n × n`` matrix.
"""

from __future__ import annotations

import numpy as np

from amumo.embeddings.container import Embeddings

__all__ = ["display_rows", "block_edges", "pooled", "window", "auto_scale", "quantise"]


def display_rows(emb: Embeddings, order: np.ndarray | None = None) -> np.ndarray:
    """``(M·N, D)`` float32 rows: modality blocks in order, each block permuted by ``order``."""
    blocks = [emb[m] if order is None else emb[m][order] for m in emb.modalities]
    return np.ascontiguousarray(np.concatenate(blocks, axis=0), dtype=np.float32)


def block_edges(n: int, size: int) -> np.ndarray:
    """Edges ``e_0 = 0 < ... < e_P = n`` of ``P = min(n, size)`` nearly equal blocks.

    Block ``k`` holds items ``floor(k·n/P) ... floor((k+1)·n/P) − 1``, so item ``i``
    belongs to block ``floor(i·P/n)`` exactly when drawn with a uniform scale."""
    p = min(n, size)
    return (np.arange(p + 1, dtype=np.int64) * n) // p


def pooled(rows: np.ndarray, size: int) -> np.ndarray:
    """Mean similarity of every block pair: ``(P, P)`` float32, ``P = min(n, size)``."""
    n = rows.shape[0]
    if n <= size:
        sim = rows @ rows.T
        np.clip(sim, -1.0, 1.0, out=sim)
        np.fill_diagonal(sim, 1.0)
        return sim.astype(np.float32, copy=False)
    edges = block_edges(n, size)
    sums = np.add.reduceat(rows.astype(np.float64), edges[:-1], axis=0)
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


def auto_scale(overview: np.ndarray, rows: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Colour range: from the smallest value seen (overview and exact rows of a seeded
    sample of 256 items, floored to 0.05) up to 1 (the diagonal)."""
    n = rows.shape[0]
    rng = np.random.default_rng(seed)
    sample = rows[np.sort(rng.choice(n, size=min(n, 256), replace=False))]
    low = min(float(overview.min()), float((sample @ rows.T).min()))
    lo = np.floor(max(-1.0, low) / 0.05) * 0.05
    return float(min(lo, 0.95)), 1.0


def quantise(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``[lo, hi]`` to codes 0..255 (clipped), uint8."""
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    codes = np.rint((values - lo) * scale)
    np.clip(codes, 0, 255, out=codes)
    return codes.astype(np.uint8)
