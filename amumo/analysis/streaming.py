"""One pass over every row, many results: the streamed analysis behind views of 10^7 pairs.

At ten million 512-d pairs every pass over the rows reads 20 GB (float16) and converts
them (about half a minute on two cores), so what the views need is computed in **one**
pass whose blocks are handed to several consumers, and what can be estimated from a
sample is fitted on one:

- :func:`spread_sample`: a seeded sample of pairs in runs of consecutive rows at random
  places (contiguous reads of a memory map: 100,000 pairs gather in about a second, where
  as many scattered rows would each cost a disk read);
- :func:`sample_pca_frame` / :func:`sample_gap_frame`: a PCA frame or the gap-axis frame
  fitted on such a sample (the frame a picture is drawn in; the metrics stay exact);
- :class:`RowPass`: reads blocks of rows of every modality once (``ROW_BLOCK`` rows,
  each cast to float32 once, pages released behind, rows of very large files checked on
  the way), split into fixed ranges run on the cores, and feeds them to consumers:
  :class:`Placement` (the coordinates of every row in a linear frame),
  :class:`ColumnTotals` (per-modality sums: exact centroids), and the heatmap overview's
  block sums (:class:`amumo.widgets._matrix.OverviewSums`).

Results do not depend on the machine: the ranges depend on the sizes only and partial
sums are combined in range order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from amumo._util import map_in_threads
from amumo.analysis._progress import Hook
from amumo.embeddings import _rows
from amumo.embeddings._rows import release_rows, take_rows
from amumo.embeddings.container import Embeddings

__all__ = [
    "SAMPLE_PAIRS", "SAMPLE_RUN", "PARTS", "spread_sample", "gather", "sample_pca_frame",
    "sample_gap_frame", "RowPass", "Placement", "ColumnTotals",
]

#: Pairs in the sample a frame (PCA, gap axis) or a close-gap step is estimated on.
SAMPLE_PAIRS = 100_000
#: Consecutive pairs per run of a spread sample.
SAMPLE_RUN = 64
#: Ranges a pass is split into (run on up to one thread per core).
PARTS = 4


def spread_sample(n: int, size: int, seed: int = 0, run: int = SAMPLE_RUN) -> np.ndarray:
    """Sorted indices of ``min(n, size)`` pairs: runs of ``run`` consecutive pairs starting
    at seeded random, non-overlapping places (all pairs when ``size >= n``).

    Unbiased for any average over the pairs (every pair has the same chance); when
    neighbouring pairs are alike (a file sorted by source) it is less precise than as
    many independent pairs, which is why it is used for display frames and for estimates
    that are checked exactly afterwards.

    Examples
    --------
    >>> idx = spread_sample(1000, 10, seed=0, run=5)
    >>> len(idx), bool(np.all(np.diff(idx) > 0))
    (10, True)
    """
    n, size, run = int(n), int(size), max(1, int(run))
    if size >= n:
        return np.arange(n)
    slots = n // run
    runs = -(-size // run)
    if runs > slots:
        return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
    starts = np.sort(np.random.default_rng(seed).choice(slots, size=runs, replace=False)) * run
    index = (starts[:, None] + np.arange(run)[None, :]).ravel()
    return index[:size]


def gather(emb: Embeddings, names: Sequence[str], index: np.ndarray) -> dict[str, np.ndarray]:
    """Rows ``index`` of each modality as float32 (``take_rows``: no read-ahead of a map)."""
    return {m: take_rows(emb[m], index, np.float32) for m in names}


def _top_directions(cov: np.ndarray, k: int) -> np.ndarray:
    values, vectors = np.linalg.eigh((cov + cov.T) / 2.0)
    top = vectors[:, np.argsort(values)[::-1][:k]]
    signs = np.sign(top[np.argmax(np.abs(top), axis=0), np.arange(top.shape[1])])
    return top * np.where(signs == 0, 1.0, signs)[None, :]  # largest loading positive


#: Sample pairs gathered at a time while a frame is fitted (memory: one such block).
_GATHER = 8192


class _Moments:
    """Float64 sums of sampled rows (and of their outer products), gathered in blocks."""

    def __init__(self, emb: Embeddings, names: Sequence[str], index: np.ndarray,
                 u: np.ndarray | None = None) -> None:
        d = emb.dim
        self.sums = {m: np.zeros(d) for m in names}
        self.total = np.zeros(d)
        self.outer = np.zeros((d, d))
        self.count = 0
        for start in range(0, len(index), _GATHER):
            part = index[start : start + _GATHER]
            for m, rows in gather(emb, names, part).items():
                self.sums[m] += rows.sum(axis=0, dtype=np.float64)
                if u is not None:
                    rows = rows - np.outer(rows @ u, u).astype(np.float32)
                self.total += rows.sum(axis=0, dtype=np.float64)
                self.outer += (rows.T @ rows).astype(np.float64)
                self.count += len(rows)
        self.pairs = len(index)

    def covariance(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.total / self.count
        cov = (self.outer - self.count * np.outer(mean, mean)) / max(1, self.count - 1)
        return mean, cov


def sample_pca_frame(
    emb: Embeddings, names: Sequence[str], k: int, *, seed: int = 0,
    sample: int = SAMPLE_PAIRS, fit_on: str = "all",
) -> tuple[np.ndarray, np.ndarray]:
    """``(mean (D,), components (D, k))`` of PCA fitted on a :func:`spread_sample` of pairs
    (all rows of ``names``, or of ``fit_on`` only), through the D × D covariance
    accumulated in float64, the sample gathered 8,192 pairs at a time.

    Examples
    --------
    >>> import amumo as am
    >>> mean, comps = sample_pca_frame(am.datasets.clip_coco500(), ("image", "text"), 2)
    >>> comps.shape
    (512, 2)
    """
    index = spread_sample(len(emb), sample, seed)
    fit = list(names) if fit_on == "all" else [fit_on]
    mean, cov = _Moments(emb, fit, index).covariance()
    return mean, _top_directions(cov, k)


def sample_gap_frame(
    emb: Embeddings, a: str, b: str, names: Sequence[str], k: int, *, seed: int = 0,
    sample: int = SAMPLE_PAIRS, centroids: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The gap-axis frame (:func:`amumo.analysis.gap_axis.gap_axes`) as ``(origin,
    components (D, k))``: exact ``centroids`` when given, else the sample's; the
    directions across the gap fitted on the sample."""
    index = spread_sample(len(emb), sample, seed)
    if centroids is None:
        sums = _Moments(emb, (a, b), index).sums
        centroids = {m: sums[m] / len(index) for m in (a, b)}
    delta = centroids[a] - centroids[b]
    norm = float(np.linalg.norm(delta))
    if norm < 1e-12:
        raise ValueError(f"the centroids of {a!r} and {b!r} coincide: there is no gap axis.")
    u = delta / norm
    axes = [u[:, None]]
    if k > 1:
        _, cov = _Moments(emb, names, index, u).covariance()
        axes.append(_top_directions(cov, k - 1))
    return (centroids[a] + centroids[b]) / 2.0, np.hstack(axes)


#: Placement multiplies by this many columns at least (zero-padded): OpenBLAS's float32
#: product with 6 columns took ~3x as long as with 16 on this machine.
_PLACE_COLUMNS = 16


class Placement:
    """Consumer: coordinates ``(row − mean) @ components`` of every row (float32), written
    into ``out[m · N + i]`` (modality blocks, the order of :func:`amumo.similarity`)."""

    def __init__(self, n: int, n_modalities: int, mean: np.ndarray, components: np.ndarray):
        components = np.asarray(components, dtype=np.float64)
        self.k = components.shape[1]
        padded = np.zeros((components.shape[0], max(self.k, _PLACE_COLUMNS)), dtype=np.float32)
        padded[:, : self.k] = components
        self.components = padded
        self.offset = (np.asarray(mean, dtype=np.float64) @ components).astype(np.float32)
        self.n = int(n)
        self.out = np.empty((n_modalities * self.n, self.k), dtype=np.float32)

    def part(self) -> None:
        return None

    def add(self, state: None, rows: slice, blocks: list[np.ndarray]) -> None:
        for k, block in enumerate(blocks):
            target = self.out[k * self.n + rows.start : k * self.n + rows.stop]
            target[:] = (block @ self.components)[:, : self.k]
            target -= self.offset

    def merge(self, states: list[None]) -> np.ndarray:
        return self.out


class ColumnTotals:
    """Consumer: float64 column sums of each modality (its centroid times N)."""

    def __init__(self, n_modalities: int, dim: int) -> None:
        self.shape = (n_modalities, dim)

    def part(self) -> np.ndarray:
        return np.zeros(self.shape)

    def add(self, state: np.ndarray, rows: slice, blocks: list[np.ndarray]) -> None:
        for k, block in enumerate(blocks):
            state[k] += block.sum(axis=0, dtype=np.float64)

    def merge(self, states: list[np.ndarray]) -> np.ndarray:
        total = np.zeros(self.shape)
        for state in states:  # range order: the same sums every time
            total += state
        return total


class RowPass:
    """Read every block of rows of ``names`` once and feed it to ``consumers``.

    A consumer has ``part() -> state`` (a fresh partial result per range), ``add(state,
    rows, blocks)`` (the rows' slice and one float32 block per modality of ``names``, in
    order) and ``merge(states) -> result`` (the partials in range order). :meth:`run`
    returns the results in the order of the consumers.

    Parameters
    ----------
    emb : Embeddings
    names : sequence of str
        Modalities to read, in order (``k`` indexes them).
    block : int, optional
        Rows per block (default :data:`amumo.embeddings._rows.ROW_BLOCK`).
    """

    def __init__(self, emb: Embeddings, names: Sequence[str], block: int | None = None):
        self.emb = emb
        self.names = tuple(names)
        self.block = int(block or _rows.ROW_BLOCK)

    def _ranges(self) -> list[tuple[int, int]]:
        n = len(self.emb)
        blocks = -(-n // self.block)
        parts = min(PARTS, blocks) if n >= 50_000 else 1
        edges = [min(n, (blocks * i // parts) * self.block) for i in range(parts + 1)]
        return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]

    def run(self, consumers: Sequence[Any], progress: Callable[[float], object] | None = None,
            should_stop: Callable[[], bool] | None = None) -> list[Any]:
        hook = Hook(progress, should_stop)
        ranges = self._ranges()
        total = len(self.emb) * len(self.names)
        done = [0] * len(ranges)
        lock = threading.Lock()
        arrays = [self.emb[m] for m in self.names]

        def work(item: tuple[int, tuple[int, int]]) -> list[Any]:
            index, (lo, hi) = item
            states = [c.part() for c in consumers]
            for start in range(lo, hi, self.block):
                rows = slice(start, min(hi, start + self.block))
                blocks = [np.asarray(array[rows], dtype=np.float32) for array in arrays]
                for consumer, state in zip(consumers, states, strict=True):
                    consumer.add(state, rows, blocks)
                for array in arrays:
                    release_rows(array, rows)  # pages dropped, rows of big files checked
                with lock:  # progress is monotone whichever thread reports it
                    done[index] += (rows.stop - rows.start) * len(arrays)
                    hook.step(sum(done) / total)  # raises Cancelled when asked to stop
            return states

        per_range = map_in_threads(work, list(enumerate(ranges)), parallel=len(ranges) > 1,
                                   name="amumo-pass")
        hook.step(1.0)
        return [consumer.merge([states[i] for states in per_range])
                for i, consumer in enumerate(consumers)]
