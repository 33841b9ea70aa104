"""Projections of many rows in bounded memory: blocked randomized PCA, out-of-sample placement.

Used by :func:`amumo.project` above its size limits (see there). The rows of
several modalities are read through :class:`RowStack`, a virtual ``(M·N, D)``
stack that hands out blocks, so the stacked float64 array is never formed.

PCA
---
Subspace iteration on the covariance ``C = X_cᵀX_c / (n − 1)`` without forming
it (Halko, Martinsson & Tropp, "Finding structure with randomness", SIAM Review
2011, Alg. 4.4 with a Rayleigh–Ritz step): ``Z ← orth(C Z)`` for ``n_iter``
passes over the rows, each pass one pair of products per block of rows, then
the eigenvectors of the small matrix ``Zᵀ C Z``. ``k = n_components + 8``
columns. Memory O(block · D + D · k); time O(passes · N · D · k). Components are
sign-normalised (largest-magnitude loading positive), so a seed gives the same
picture every time.

Out of sample
-------------
UMAP places the rows it was not fitted on with ``model.transform``, in blocks
(progress and cancellation between blocks). t-SNE has no transform: each
remaining row is placed at the similarity-weighted mean of the fitted
coordinates of its ``k = 10`` nearest fitted rows by cosine (weights falling
from 1 to e⁻⁴ from the nearest to the 10th, see :func:`knn_place`): it lands
inside the cluster it belongs to,
which is what a scatter needs; it is not a t-SNE optimisation of those rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from amumo._util import map_in_threads
from amumo.analysis._progress import Hook
from amumo.embeddings._rows import release_rows, take_rows

__all__ = ["RowStack", "randomized_pca", "pca_transform", "knn_place", "blocked_transform"]

#: Rows per block (a float32 block of 8,192 × 512 is 16 MiB).
BLOCK = 8192
#: From this many rows a pass is split into PARTS block-aligned ranges run by up to one
#: thread per core (numpy and BLAS release the GIL: on two cores a pass over a million
#: pairs takes about half the time). The split depends on the sizes only, never on the
#: machine or on timing, and the ranges' sums are combined in order, so results are
#: the same everywhere.
PARALLEL_ROWS = 200_000
PARTS = 4

_T = TypeVar("_T")


def _ranges(lo: int, hi: int) -> list[tuple[int, int]]:
    """Block-aligned ranges covering ``lo … hi`` (PARTS of them from PARALLEL_ROWS rows)."""
    parts = PARTS if hi - lo >= PARALLEL_ROWS else 1
    blocks = -(-(hi - lo) // BLOCK)
    edges = [lo + min(hi - lo, (blocks * i // parts) * BLOCK) for i in range(parts + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]


def _over_ranges(func: Callable[[int, int], _T], lo: int, hi: int) -> list[_T]:
    """``[func(a, b) for a, b in _ranges(lo, hi)]``, the ranges spread over the cores."""
    return map_in_threads(lambda r: func(*r), _ranges(lo, hi), name="amumo-pca")


class RowStack:
    """The rows of several ``(N, D)`` arrays as one virtual ``(M·N, D)`` stack."""

    def __init__(self, arrays: Sequence[np.ndarray]) -> None:
        #: (embeddings, modality names, fit_on) the stack was made from, when known
        self.source: tuple | None = None
        self.arrays = list(arrays)
        self.n = self.arrays[0].shape[0]
        self.dim = self.arrays[0].shape[1]

    def __len__(self) -> int:
        return self.n * len(self.arrays)

    def block(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start … stop`` (may span modalities) as float32."""
        parts = []
        while start < stop:
            m, r = divmod(start, self.n)
            take = min(stop - start, self.n - r)
            parts.append(np.asarray(self.arrays[m][r : r + take], dtype=np.float32))
            start += take
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def take(self, index: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        """Rows at sorted global ``index`` (a copy)."""
        index = np.asarray(index)
        out = np.empty((len(index), self.dim), dtype=dtype)
        for m, array in enumerate(self.arrays):
            lo, hi = np.searchsorted(index, [m * self.n, (m + 1) * self.n])
            if hi > lo:
                out[lo:hi] = take_rows(array, index[lo:hi] - m * self.n)
        return out

    def blocks(self, lo: int = 0, hi: int | None = None, size: int = BLOCK):
        """``(start, rows)`` for consecutive blocks of ``lo … hi``."""
        hi = len(self) if hi is None else hi
        for start in range(lo, hi, size):
            stop = min(hi, start + size)
            yield start, self.block(start, stop)
            self.release(start, stop)

    def release(self, start: int, stop: int) -> None:
        """Drop rows ``start … stop`` of memory-mapped inputs from RSS (after use)."""
        while start < stop:
            m, r = divmod(start, self.n)
            take = min(stop - start, self.n - r)
            release_rows(self.arrays[m], slice(r, r + take))
            start += take


def _sign_normalised(components: np.ndarray) -> np.ndarray:
    """Flip each column so its largest-magnitude entry is positive."""
    idx = np.argmax(np.abs(components), axis=0)
    signs = np.sign(components[idx, np.arange(components.shape[1])])
    signs[signs == 0] = 1.0
    return components * signs


def randomized_pca(
    stack: RowStack,
    lo: int,
    hi: int,
    n_components: int,
    seed: int = 0,
    *,
    n_iter: int = 4,
    oversample: int = 8,
    hook: Hook | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top principal directions of rows ``lo … hi`` of ``stack`` by blocked subspace iteration.

    Returns
    -------
    mean : (D,) float64
    components : (D, n_components) float64, orthonormal columns
    variances : (n_components,) float64, the explained variances

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(3000, 6)) * [5, 3, 1, 1, 1, 1]
    >>> mean, comps, var = randomized_pca(RowStack([x, x]), 0, 3000, 2)
    >>> np.round(np.abs(comps[:2]), 1).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    n = hi - lo
    d = stack.dim
    k = min(d, n_components + oversample)
    # The mean comes out of the first product pass (no pass of its own): rows are
    # centred on a provisional mean μ₀ (the first block's) and, with r = x − μ₀ and
    # r̄ its mean, Σ (r − r̄)(r − r̄)ᵀ z = Σ r (rᵀz) − n r̄ (r̄ᵀ z) exactly. Centring on
    # μ₀ keeps the float32 products free of the cancellation that the large common
    # mean of a cone of embeddings would cause.
    shift = stack.block(lo, min(hi, lo + BLOCK)).mean(axis=0, dtype=np.float64)
    shift32 = shift.astype(np.float32)
    rng = np.random.default_rng(seed)
    z = np.linalg.qr(rng.normal(size=(d, k)))[0]
    passes = n_iter + 1
    offset = np.zeros(d)  # r̄, known after the first pass

    def times_cov(z: np.ndarray, first: bool = False) -> np.ndarray:
        z32 = z.astype(np.float32)

        def part(a: int, b: int) -> np.ndarray:
            acc = np.zeros((d, z.shape[1] + int(first)))
            for _, rows in stack.blocks(a, b):
                rows = rows - shift32
                right = rows @ z32
                if first:  # a column of ones: the same product also sums the rows
                    right = np.hstack([right, np.ones((len(rows), 1), dtype=np.float32)])
                acc += (rows.T @ right).astype(np.float64)
            return acc

        parts = _over_ranges(part, lo, hi)
        out = parts[0]
        for more in parts[1:]:  # in range order: the same sum every time
            out = out + more
        if first:
            offset[:] = out[:, -1] / n
            out = out[:, :-1]
        return (out - n * np.outer(offset, offset @ z)) / max(1, n - 1)

    for step in range(n_iter):
        z = np.linalg.qr(times_cov(z, first=step == 0))[0]
        if hook is not None:
            hook.step((step + 1) / passes)
    cz = times_cov(z, first=n_iter == 0)
    mean = shift + offset
    small = z.T @ cz
    values, vectors = np.linalg.eigh((small + small.T) / 2.0)
    order = np.argsort(values)[::-1][:n_components]
    components = _sign_normalised(z @ vectors[:, order])
    if hook is not None:
        hook.step(1.0)
    return mean, components, values[order]


def pca_transform(
    stack: RowStack, mean: np.ndarray, components: np.ndarray, hook: Hook | None = None
) -> np.ndarray:
    """``(rows − mean) @ components`` for every row, float32, in blocks."""
    out = np.empty((len(stack), components.shape[1]), dtype=np.float32)
    comp32 = components.astype(np.float32)
    mean_proj = (mean @ components).astype(np.float32)
    threaded = len(_ranges(0, len(stack))) > 1

    def part(a: int, b: int) -> None:
        for start, rows in stack.blocks(a, b):
            out[start : start + len(rows)] = rows @ comp32 - mean_proj
            if hook is not None and not threaded:  # progress in order, from one thread
                hook.step((start + len(rows)) / len(stack))

    _over_ranges(part, 0, len(stack))
    if hook is not None and threaded:
        hook.step(1.0)
    return out


def blocked_transform(
    transform, stack: RowStack, index: np.ndarray, n_components: int,
    hook: Hook | None = None, size: int = 10_000,
) -> np.ndarray:
    """``transform(rows)`` for the rows at ``index`` in blocks (e.g. UMAP's out of sample)."""
    out = np.empty((len(index), n_components), dtype=np.float32)
    for start in range(0, len(index), size):
        part = index[start : start + size]
        out[start : start + len(part)] = transform(stack.take(part, np.float64))
        if hook is not None:
            hook.step((start + len(part)) / len(index))
    return out


def knn_place(
    stack: RowStack,
    fit_index: np.ndarray,
    fit_coords: np.ndarray,
    rest: np.ndarray,
    *,
    k: int = 10,
    sharpness: float = 0.25,
    hook: Hook | None = None,
    size: int = 4096,
) -> np.ndarray:
    """Place rows ``rest`` at the weighted mean of their nearest fitted rows' coordinates.

    Nearest by cosine (rows are unit length); weights ``exp((cos − c₁) / w)``
    with ``c₁`` the nearest neighbour's cosine and ``w = sharpness · (c₁ − c_k)``,
    so the nearest neighbours dominate whatever the local density (weights fall
    from 1 to e⁻⁴ across the k neighbours). Memory O(size · len(fit_index)).

    Examples
    --------
    >>> x = np.eye(3, dtype=np.float32)
    >>> knn_place(RowStack([x, x]), np.array([0, 1, 2]), np.array([[0., 0], [1, 0], [0, 1]]),
    ...           np.array([4]), k=1).tolist()
    [[1.0, 0.0]]
    """
    fitted = stack.take(fit_index)
    k = max(1, min(int(k), len(fit_index)))
    out = np.empty((len(rest), fit_coords.shape[1]), dtype=np.float32)
    for start in range(0, len(rest), size):
        part = rest[start : start + size]
        sims = stack.take(part) @ fitted.T
        near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        near_sims = np.take_along_axis(sims, near, axis=1).astype(np.float64)
        top = near_sims.max(axis=1, keepdims=True)
        spread = top - near_sims.min(axis=1, keepdims=True)
        width = np.maximum(spread * sharpness, 1e-6)
        weights = np.exp((near_sims - top) / width)
        weights /= weights.sum(axis=1, keepdims=True)
        out[start : start + len(part)] = np.einsum("ij,ijc->ic", weights, fit_coords[near])
        if hook is not None:
            hook.step((start + len(part)) / len(rest))
    return out
