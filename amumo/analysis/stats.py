"""Mergeable sums that give every O(N·D) gap metric exactly: :class:`GapStats`.

For unit rows ``x_i`` (modality ``a``) and ``y_i`` (modality ``b``), ``i = 1..N``,
every metric below is a function of a few sums that can be accumulated shard by
shard, machine by machine, and added:

==================  =========================================================
``S_a = Σ x_i``      (D,) per modality; ``Q_a = Σ ‖x_i‖²`` (= N for unit rows)
``P_ab = Σ x_i·y_i`` matched-pair dot products, per modality pair
``L_ab = Σ ‖x_i − y_i‖``  and  ``R_ab = Σ ‖x_i − y_i‖²``
==================  =========================================================

- gap distance ``‖S_a/N − S_b/N‖`` (Liang et al., NeurIPS 2022),
- centroid cosine ``cos(S_a, S_b)``,
- cone cosine (mean cosine of distinct items of one modality)
  ``(‖S_a‖² − Q_a) / (N(N − 1))``,
- paired cosine ``P_ab / N``, alignment ``R_ab / N`` (Wang & Isola, ICML 2020),
  L2I ``L_ab / N``,
- RMG (Schrodi et al., "Two Effects, One Trigger", ICLR 2025), as their
  released code computes it: ``d(c) = (1 − c)/2``, ``m = max(1e-3, d(P_ab/N))``,
  ``d_a``, ``d_b`` = ``d`` of the cone cosines, ``RMG = m / (m + (d_a + d_b)/2)``.

Sums are float64, accumulated in blocks of rows (no float64 copy of a whole
modality). This module is the only place these sums are written:
:func:`amumo.rmg`, :func:`amumo.l2i`, :func:`amumo.centroid_cosine`,
:func:`amumo.paired_cosine`, :func:`amumo.cone_cosine`, :func:`amumo.alignment`,
:func:`amumo.gap_summary` and the sum-based entries of :func:`amumo.metrics` are
views over a :class:`GapStats`. :func:`amumo.gap_distance` (blocked centroids of
:mod:`amumo.analysis.gap`) agrees to ~1e-15; addition order is the only
difference. Retrieval (recall@k) and InfoNCE are not sums over pairs; see
:mod:`amumo.analysis.retrieval`.

Undefined values
----------------
One rule for every function built on these sums:

- **No pairs** (N = 0, e.g. an empty file mapped with ``mmap=True``): every
  metric raises ``ValueError`` (nothing to average). :meth:`GapStats.update`
  accepts an empty shard; reading a GapStats that saw no pairs raises.
- **A zero centroid** (e.g. each pair holds ``x`` and ``−x``): its direction
  does not exist, so the centroid cosine is NaN, in :meth:`GapStats.metrics`,
  :func:`amumo.metrics` and :func:`amumo.centroid_cosine` alike.
- **No spread inside either modality** (every row of ``a`` is one point and
  every row of ``b`` is one point): RMG compares the pair distance with that
  spread, so it is NaN (see :func:`rmg_from_means`), while the gap distance is
  well defined (0 when the two points coincide).
- **One pair** (N = 1): the cone cosine and RMG average over *distinct* items of
  a modality, which one pair does not have. Asking for them alone
  (:func:`amumo.cone_cosine`, :func:`amumo.rmg`, :meth:`GapStats.cone_cosine`)
  raises ``ValueError``; the reports (:meth:`GapStats.metrics`,
  :func:`amumo.metrics`) keep every key and give NaN there, so the defined
  numbers of a tiny selection stay visible.

Examples
--------
>>> import amumo as am
>>> emb = am.datasets.clip_coco500()
>>> whole = am.GapStats().update(emb)
>>> halves = am.GapStats().update(emb.subset(range(250)))
>>> halves = halves.merge(am.GapStats().update(emb.subset(range(250, 500))))
>>> abs(whole.metrics()["rmg"] - halves.metrics()["rmg"]) < 1e-12
True
>>> round(whole.metrics()["gap_distance"], 4), round(whole.metrics()["rmg"], 4)
(0.8514, 0.5915)
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from amumo._util import map_in_threads
from amumo.analysis._checks import check_embeddings
from amumo.analysis._progress import Hook
from amumo.embeddings import _rows
from amumo.embeddings._rows import release_rows
from amumo.embeddings.container import Embeddings

__all__ = ["GapStats", "rmg_from_means", "RMG_EPS", "RMG_SPREAD_EPS"]

#: Lower bound of the matched-pair term of RMG, as in Schrodi et al.'s code.
RMG_EPS = 1e-3
#: Below this mean within-modality dissimilarity ``(d_a + d_b) / 2`` both modalities have
#: collapsed to a point each (float32 unit rows leave ~1e-7 of rounding) and RMG is NaN.
RMG_SPREAD_EPS = 1e-6
_NAN = float("nan")


def rmg_from_means(paired_cosine: float, within_a: float, within_b: float) -> float:
    """RMG from the three mean cosines it is made of (Schrodi et al., ICLR 2025).

    Parameters
    ----------
    paired_cosine : float
        Mean ``cos(a_i, b_i)`` over matched pairs.
    within_a, within_b : float
        Mean ``cos(a_i, a_j)`` (and for ``b``) over distinct items ``i ≠ j``.

    Returns
    -------
    float
        ``m / (m + (d_a + d_b) / 2)`` with ``d(c) = (1 − c) / 2``,
        ``m = max(1e-3, d(paired_cosine))``, ``d_a = d(within_a)``, ``d_b = d(within_b)``.
        NaN when there is no spread to compare with: ``(d_a + d_b) / 2`` below
        :data:`RMG_SPREAD_EPS` (both modalities collapsed to one point each; the
        1e-3 floor would otherwise report a full gap, ≈ 1, even when the two points
        coincide and the gap distance is 0), or when an input is NaN.

    Examples
    --------
    >>> round(rmg_from_means(1.0, 0.5, 0.5), 6)  # pairs coincide: only the 1e-3 floor is left
    0.003984
    >>> rmg_from_means(0.0, 0.0, 0.0)  # pairs as far apart as unrelated items
    0.5
    >>> rmg_from_means(1.0, 1.0, 1.0)  # every row the same point: nothing to compare with
    nan
    """
    m = max(RMG_EPS, (1.0 - float(paired_cosine)) / 2.0)
    spread = ((1.0 - float(within_a)) / 2.0 + (1.0 - float(within_b)) / 2.0) / 2.0
    if not spread > RMG_SPREAD_EPS or m != m:  # also NaN inputs
        return _NAN
    return m / (m + spread)


#: Rows per block when accumulating (float64 working set ~ 3 × BLOCK × D × 8 bytes: 3 MiB at
#: D = 512, within a core's L2 cache, so the five sums of a block read it from cache).
BLOCK = 256
#: Pages of memory-mapped input are released every this many rows.
RELEASE_ROWS = _rows.ROW_BLOCK
#: From this many pairs :meth:`GapStats.update` sums row ranges in parallel threads.
PARALLEL_ROWS = 50_000


class GapStats:
    """Accumulator of the sums behind the O(N·D) modality-gap metrics; mergeable.

    Build it empty, feed it with :meth:`update` (any number of times: shards,
    batches), combine accumulators from other processes or machines with
    :meth:`merge` (or ``+``), read the numbers with :meth:`metrics`. The state
    is a handful of float64 vectors (``M·D + M²`` numbers), JSON-friendly via
    :meth:`to_dict` / :meth:`from_dict` and picklable.

    Parameters
    ----------
    block : int, default :data:`BLOCK` (256)
        Rows per block while summing (memory ``~ 3 × block × D × 8`` bytes per thread).

    Attributes
    ----------
    n : int
        Pairs seen so far.
    modalities : tuple of str or None
        Set by the first update.

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> m = am.GapStats().update(emb).metrics()
    >>> round(m["l2i"], 4), round(m["centroid_cosine"], 4), m["n_pairs"]
    (1.1745, 0.3088, 500.0)
    """

    def __init__(self, *, block: int | None = None) -> None:
        if block is None:
            block = BLOCK
        if isinstance(block, bool) or int(block) != block or block < 1:
            raise ValueError(f"block={block!r} must be a positive integer (rows per block).")
        self.block = int(block)
        self.n = 0
        self.modalities: tuple[str, ...] | None = None
        self.dim: int | None = None
        self._sum: dict[str, np.ndarray] = {}
        self._sumsq: dict[str, float] = {}
        self._dot: dict[tuple[str, str], float] = {}
        self._dist: dict[tuple[str, str], float] = {}
        self._dist2: dict[tuple[str, str], float] = {}

    # ------------------------------------------------------------------ building
    def _init(self, modalities: tuple[str, ...], dim: int) -> None:
        self.modalities = modalities
        self.dim = dim
        self._sum = {m: np.zeros(dim) for m in modalities}
        self._sumsq = {m: 0.0 for m in modalities}
        for pair in itertools.combinations(modalities, 2):
            self._dot[pair] = self._dist[pair] = self._dist2[pair] = 0.0

    def _check_layout(self, modalities: tuple[str, ...], dim: int, what: str) -> None:
        if self.modalities is None:
            self._init(modalities, dim)
        elif modalities != self.modalities or dim != self.dim:
            raise ValueError(
                f"{what} has modalities {modalities} and D={dim}, but this GapStats holds "
                f"{self.modalities} and D={self.dim}; sums of different layouts cannot be added."
            )

    def update(
        self, emb: Embeddings, modalities: Sequence[str] | None = None, *,
        progress: Callable[[float], object] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> GapStats:
        """Add the pairs of ``emb`` (in blocks of rows; memory-mapped input is read once).

        ``modalities`` restricts the sums to those modalities (default all): a view
        such as :func:`amumo.rmg` on ``a``, ``b`` reads only those two. An empty
        ``emb`` (an empty shard) adds nothing. ``progress(fraction)`` is called as rows
        are summed (a streaming pass over ten million pairs takes a minute);
        ``should_stop()`` returning True stops between blocks with
        :class:`amumo.analysis.retrieval.Cancelled`, adding nothing.

        From :data:`PARALLEL_ROWS` pairs the rows are split into one range per core,
        each summed in its own thread into its own sums, and the ranges' sums are added
        in order (so the result does not depend on which thread finished first).

        Returns ``self`` so calls chain: ``GapStats().update(a).update(b)``.
        """
        emb = check_embeddings(emb)
        if modalities is None:
            chosen = tuple(emb.modalities)
        else:
            if isinstance(modalities, str):
                raise TypeError(
                    f"modalities={modalities!r} is one string; pass a sequence of names, "
                    f"e.g. ({modalities!r},)."
                )
            chosen = tuple(modalities)
            for name in chosen:
                emb.check_modality(name, "modalities")
            if len(set(chosen)) != len(chosen) or not chosen:
                raise ValueError(f"modalities={chosen!r} must name distinct modalities.")
        self._check_layout(chosen, emb.dim, "emb")
        n = len(emb)
        parts = max(1, min(os.cpu_count() or 1, 4)) if n >= PARALLEL_ROWS else 1
        bounds = np.linspace(0, n, parts + 1).astype(int)
        ranges = [(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        report = None
        if progress is not None or should_stop is not None:
            hook, lock, done = Hook(progress, should_stop), threading.Lock(), [0]

            def report(rows: int) -> None:  # from any range's thread, in order of arrival
                with lock:
                    done[0] += rows
                    hook.step(done[0] / max(1, n))  # raises Cancelled when asked to stop

            report(0)
        # every range first, then the merge: a stopped pass adds nothing
        sums = map_in_threads(lambda r: self._range_sums(emb, *r, report=report), ranges,
                              parallel=parts > 1, name="amumo-stats")
        for part in sums:
            self.merge(part)
        return self

    def _range_sums(self, emb: Embeddings, first: int, stop: int,
                    report: Callable[[int], None] | None = None) -> GapStats:
        """A new GapStats holding the sums of rows ``first … stop − 1`` of ``emb``.

        Each block of rows is cast to float64 into reused buffers that fit a core's cache
        (``block`` rows), and every sum of the block is taken while it is there; the pages of
        a memory-mapped input are released every :data:`RELEASE_ROWS` rows.
        """
        names = self.modalities
        assert names is not None and self.dim is not None
        out = GapStats(block=self.block)
        out._init(names, self.dim)
        size = max(1, min(self.block, stop - first))
        buffers = {m: np.empty((size, self.dim)) for m in names}
        diff = np.empty((size, self.dim))
        released = first
        for start in range(first, stop, size):
            end = min(stop, start + size)
            blocks = {}
            for m in names:
                block = buffers[m][: end - start]
                block[...] = emb[m][start:end]
                out._sum[m] += block.sum(axis=0)
                out._sumsq[m] += float(np.einsum("ij,ij->", block, block))
                blocks[m] = block
            for a, b in out._dot:
                x, y = blocks[a], blocks[b]
                out._dot[(a, b)] += float(np.einsum("ij,ij->", x, y))
                gap = np.subtract(x, y, out=diff[: end - start])
                sq = np.einsum("ij,ij->i", gap, gap)
                out._dist2[(a, b)] += float(sq.sum())
                out._dist[(a, b)] += float(np.sqrt(sq).sum())
            if end - released >= RELEASE_ROWS or end == stop:
                for m in names:  # memory-mapped input: keep RSS at a few blocks
                    release_rows(emb[m], slice(released, end))
                if report is not None:
                    report(end - released)
                released = end
        out.n = stop - first
        return out

    def _add_arrays(self, blocks: dict[str, np.ndarray]) -> None:
        """Add the sums of float64 blocks of rows (the same pairs in every modality), as
        :meth:`_range_sums` adds each of its blocks."""
        for m, block in blocks.items():
            self._sum[m] += block.sum(axis=0)
            self._sumsq[m] += float(np.einsum("ij,ij->", block, block))
        for a, b in self._dot:
            x, y = blocks[a], blocks[b]
            self._dot[(a, b)] += float(np.einsum("ij,ij->", x, y))
            gap = x - y
            sq = np.einsum("ij,ij->i", gap, gap)
            self._dist2[(a, b)] += float(sq.sum())
            self._dist[(a, b)] += float(np.sqrt(sq).sum())

    @staticmethod
    def consumer(modalities: Sequence[str], dim: int) -> Any:
        """A consumer of :class:`amumo.analysis.streaming.RowPass` (blocks of every modality
        in ``modalities``, in that order) that returns their GapStats: the sums of a pass
        that also feeds other results."""
        return _StatsConsumer(tuple(modalities), int(dim))

    def update_shards(self, folder: str | Path) -> GapStats:
        """Add every shard of a shard folder (:mod:`amumo.embeddings.shards`), zero-copy.

        Each shard is summed on its own and the sums merged in shard order, as
        :func:`amumo.scale.stats.shard_stats` does with one Ray task per shard: both give
        the same numbers to the last bit.
        """
        from amumo.embeddings.shards import iter_shards

        for shard in iter_shards(folder):
            self.merge(GapStats(block=self.block).update(shard, self.modalities))
        return self

    def merge(self, other: GapStats) -> GapStats:
        """Add the sums of ``other`` into ``self`` (same modalities and D); returns ``self``."""
        if not isinstance(other, GapStats):
            raise TypeError(f"other is a {type(other).__name__}; pass a GapStats to merge.")
        if other.modalities is None:
            return self
        self._check_layout(other.modalities, int(other.dim or 0), "other")
        for m in other._sum:
            self._sum[m] += other._sum[m]
            self._sumsq[m] += other._sumsq[m]
        for pair in other._dot:
            self._dot[pair] += other._dot[pair]
            self._dist[pair] += other._dist[pair]
            self._dist2[pair] += other._dist2[pair]
        self.n += other.n
        return self

    def __add__(self, other: GapStats) -> GapStats:
        return GapStats.from_dict(self.to_dict()).merge(other)

    @classmethod
    def combine(cls, parts: Iterable[GapStats]) -> GapStats:
        """A new GapStats holding the sum of ``parts``."""
        out = cls()
        for part in parts:
            out.merge(part)
        return out

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly state (lists of floats), e.g. to send from a Ray worker."""
        return {
            "n": self.n,
            "modalities": list(self.modalities or ()),
            "dim": self.dim,
            "sum": {m: v.tolist() for m, v in self._sum.items()},
            "sumsq": dict(self._sumsq),
            "pairs": [
                {"a": a, "b": b, "dot": self._dot[(a, b)], "dist": self._dist[(a, b)],
                 "dist2": self._dist2[(a, b)]}
                for a, b in self._dot
            ],
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> GapStats:
        """Rebuild a GapStats from :meth:`to_dict`.

        The state is checked as it would arrive from another process: a count that
        is not a whole number ``≥ 0``, sums that are not finite, a ``sum`` vector
        whose length is not ``dim``, negative distances or squares, or a pair table
        that does not hold each pair of modalities once raise ``ValueError`` naming
        the entry.
        """
        return _state_to_stats(cls(), state)

    # ------------------------------------------------------------------ results
    def _pair(self, a: str | None, b: str | None) -> tuple[str, str]:
        if self.modalities is None or self.n == 0:
            raise ValueError("this GapStats is empty; call update(emb) first.")
        names = self.modalities
        if len(names) < 2:
            raise ValueError(
                f"this GapStats holds the sums of {names} only; gap metrics compare two "
                "modalities (update(emb) with both)."
            )
        a = names[0] if a is None else a
        b = names[1] if b is None else b
        for value, arg in ((a, "a"), (b, "b")):
            if value not in names:
                raise ValueError(f"{arg}={value!r} is not one of the modalities {names}.")
        if a == b:
            raise ValueError(f"a and b are both {a!r}; pass two different modalities.")
        return a, b

    def _pair_sum(self, table: dict[tuple[str, str], float], a: str, b: str) -> float:
        return table[(a, b)] if (a, b) in table else table[(b, a)]

    def _modality(self, modality: str) -> str:
        if self.modalities is None or self.n == 0:
            raise ValueError("this GapStats is empty; call update(emb) first.")
        if not isinstance(modality, str) or modality not in self._sum:
            raise ValueError(
                f"modality={modality!r} is not one of the modalities {self.modalities} "
                "this GapStats holds."
            )
        return modality

    def mean(self, modality: str) -> np.ndarray:
        """Centroid of one modality (float64, (D,))."""
        return self._sum[self._modality(modality)] / self.n

    def gap_vector(self, a: str | None = None, b: str | None = None) -> np.ndarray:
        """``mean(a) − mean(b)`` (float64), as :func:`amumo.gap_vector`."""
        a, b = self._pair(a, b)
        return self.mean(a) - self.mean(b)

    def gap_distance(self, a: str | None = None, b: str | None = None) -> float:
        """``‖mean(a) − mean(b)‖`` (Liang et al., NeurIPS 2022), as :func:`amumo.gap_distance`."""
        return float(np.linalg.norm(self.gap_vector(a, b)))

    def cone_cosine(self, modality: str) -> float:
        """Mean cosine of distinct items of ``modality``: ``(‖Σx‖² − Σ‖x‖²) / (N(N − 1))``.

        Raises ``ValueError`` for an unknown modality and below 2 pairs (there
        are no distinct items to average over).
        """
        modality = self._modality(modality)
        if self.n < 2:
            raise ValueError(
                f"cone_cosine needs at least 2 items of the modality {modality!r} (a mean "
                f"over distinct items), but this GapStats has seen n={self.n}."
            )
        total = self._sum[modality]
        return float((total @ total - self._sumsq[modality]) / (self.n * (self.n - 1)))

    def centroid_cosine(self, a: str | None = None, b: str | None = None) -> float:
        """``cos(mean(a), mean(b))``; NaN when a centroid is the zero vector (no direction)."""
        a, b = self._pair(a, b)
        sa, sb = self._sum[a], self._sum[b]
        norm = float(np.linalg.norm(sa) * np.linalg.norm(sb))
        return float(sa @ sb / norm) if norm > 0 else _NAN

    def paired_cosine(self, a: str | None = None, b: str | None = None) -> float:
        """Mean ``cos(a_i, b_i)`` over matched pairs: ``P_ab / N``."""
        a, b = self._pair(a, b)
        return self._pair_sum(self._dot, a, b) / self.n

    def alignment(self, a: str | None = None, b: str | None = None) -> float:
        """Wang & Isola alignment ``E‖a_i − b_i‖²``: ``R_ab / N``."""
        a, b = self._pair(a, b)
        return self._pair_sum(self._dist2, a, b) / self.n

    def l2i(self, a: str | None = None, b: str | None = None) -> float:
        """Mean ``‖a_i − b_i‖`` over matched pairs: ``L_ab / N``."""
        a, b = self._pair(a, b)
        return self._pair_sum(self._dist, a, b) / self.n

    def rmg(self, a: str | None = None, b: str | None = None) -> float:
        """Relative modality gap from the sums (:func:`rmg_from_means`); needs 2 pairs."""
        a, b = self._pair(a, b)
        return rmg_from_means(self.paired_cosine(a, b), self.cone_cosine(a), self.cone_cosine(b))

    def metrics(self, a: str | None = None, b: str | None = None) -> dict[str, float]:
        """Every O(N·D) metric for modalities ``a``, ``b`` (default the first two).

        Keys (same names and values as :func:`amumo.metrics`): ``n_pairs``,
        ``gap_distance``, ``centroid_cosine``, ``paired_cosine``, ``alignment``,
        ``l2i``, ``rmg``, ``cone_cosine:<m>`` for every modality. Every key is
        present for N ≥ 1; an undefined value is NaN (see "Undefined values" in
        :mod:`amumo.analysis.stats`): the centroid cosine of a zero centroid,
        the cone cosines and RMG of a single pair, RMG without spread.
        """
        a, b = self._pair(a, b)
        out: dict[str, float] = {
            "n_pairs": float(self.n),
            "gap_distance": self.gap_distance(a, b),
            "centroid_cosine": self.centroid_cosine(a, b),
            "paired_cosine": self.paired_cosine(a, b),
            "alignment": self.alignment(a, b),
            "l2i": self.l2i(a, b),
        }
        many = self.n >= 2
        cones = {m: self.cone_cosine(m) if many else _NAN for m in self.modalities or ()}
        for m, value in cones.items():
            out[f"cone_cosine:{m}"] = value
        out["rmg"] = rmg_from_means(out["paired_cosine"], cones[a], cones[b])
        return out

    def pair_table(self, key: str = "gap_distance") -> tuple[Sequence[str], np.ndarray]:
        """``(modalities, M × M matrix)`` of one pair metric over all modality pairs.

        The diagonal is 0 for distances/gaps and 1 for cosines.
        """
        names = self.modalities or ()
        table = np.zeros((len(names), len(names)))
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                if i == j:
                    table[i, j] = 1.0 if "cosine" in key else 0.0
                else:
                    table[i, j] = self.metrics(a, b)[key]
        return names, table

    def __repr__(self) -> str:
        return f"GapStats(n={self.n}, modalities={self.modalities}, dim={self.dim})"


#: Rows of a RowPass block cast to float64 at a time by GapStats.consumer.
_CONSUMER_ROWS = 1024


class _StatsConsumer:
    """GapStats of the blocks of a RowPass (see :meth:`GapStats.consumer`)."""

    def __init__(self, modalities: tuple[str, ...], dim: int) -> None:
        self.modalities, self.dim = modalities, dim

    def part(self) -> GapStats:
        stats = GapStats()
        stats._init(self.modalities, self.dim)
        return stats

    def add(self, state: GapStats, rows: slice, blocks: list[np.ndarray]) -> None:
        count = rows.stop - rows.start
        for start in range(0, count, _CONSUMER_ROWS):  # float64 casts of a cache-sized part
            part = slice(start, min(count, start + _CONSUMER_ROWS))
            state._add_arrays({m: np.asarray(b[part], dtype=np.float64)
                               for m, b in zip(self.modalities, blocks, strict=True)})
        state.n += count

    def merge(self, states: list[GapStats]) -> GapStats:
        out = GapStats()
        for state in states:  # range order
            out.merge(state)
        return out


# ---------------------------------------------------------------------- state checks
def _finite(value: Any, where: str, *, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"GapStats state: {where} is {value!r}; expected a number.")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"GapStats state: {where} is {number}; sums must be finite.")
    if nonnegative and number < 0:
        raise ValueError(f"GapStats state: {where} is {number}; it is a sum of squares or "
                         "distances and cannot be negative.")
    return number


def _state_to_stats(out: GapStats, state: Any) -> GapStats:
    """Fill the empty ``out`` from a :meth:`GapStats.to_dict` state, checking every entry."""
    if not isinstance(state, dict):
        raise TypeError(f"state is a {type(state).__name__}; pass the dict of GapStats.to_dict().")
    n = state.get("n", 0)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(
            f"GapStats state: n={n!r} must be a whole number >= 0 (the pairs summed)."
        )
    modalities = state.get("modalities") or []
    if not modalities:
        if n:
            raise ValueError(f"GapStats state: n={n} pairs but no modalities; the state is "
                             "incomplete.")
        return out
    if (not isinstance(modalities, (list, tuple))
            or not all(isinstance(m, str) and m for m in modalities)
            or len(set(modalities)) != len(modalities)):
        raise ValueError(f"GapStats state: modalities={modalities!r} must be distinct names.")
    missing = [key for key in ("dim", "sum", "sumsq", "pairs") if key not in state]
    if missing:
        raise ValueError(f"GapStats state: missing {missing}; pass the dict of to_dict().")
    dim = state["dim"]
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"GapStats state: dim={dim!r} must be a positive whole number.")
    names = tuple(modalities)
    out._init(names, int(dim))
    out.n = int(n)
    for m in names:
        try:
            vector = np.asarray(state["sum"][m], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"GapStats state: sum[{m!r}] is missing or not numeric "
                             f"({type(err).__name__}).") from err
        if vector.shape != (out.dim,):
            raise ValueError(
                f"GapStats state: sum[{m!r}] has shape {vector.shape}, but dim={out.dim}; "
                "sums of different dimensions cannot be read together."
            )
        if not np.isfinite(vector).all():
            raise ValueError(f"GapStats state: sum[{m!r}] holds NaN or Inf; sums must be "
                             "finite.")
        out._sum[m] = vector.copy()
        try:
            square = state["sumsq"][m]
        except (KeyError, TypeError) as err:
            raise ValueError(f"GapStats state: sumsq[{m!r}] is missing.") from err
        out._sumsq[m] = _finite(square, f"sumsq[{m!r}]", nonnegative=True)
    entries = state["pairs"]
    if not isinstance(entries, (list, tuple)):
        raise ValueError("GapStats state: pairs must be a list of {'a', 'b', 'dot', 'dist', "
                         "'dist2'} entries.")
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        if not isinstance(entry, dict) or not {"a", "b", "dot", "dist", "dist2"} <= set(entry):
            raise ValueError(f"GapStats state: pair entry {entry!r} needs keys a, b, dot, dist "
                             "and dist2.")
        a, b = entry["a"], entry["b"]
        pair = (a, b) if (a, b) in out._dot else (b, a)
        if not (isinstance(a, str) and isinstance(b, str)) or pair not in out._dot \
                or pair in seen:
            raise ValueError(
                f"GapStats state: pair entry ({a!r}, {b!r}) is not a pair of distinct "
                f"modalities of {names}, or appears twice."
            )
        seen.add(pair)
        where = f"pair ({a!r}, {b!r})"
        out._dot[pair] = _finite(entry["dot"], f"{where} dot")
        out._dist[pair] = _finite(entry["dist"], f"{where} dist", nonnegative=True)
        out._dist2[pair] = _finite(entry["dist2"], f"{where} dist2", nonnegative=True)
    if len(seen) != len(out._dot):
        absent = [p for p in out._dot if p not in seen]
        raise ValueError(f"GapStats state: pairs {absent} are missing; each pair of "
                         "modalities needs its sums.")
    return out
