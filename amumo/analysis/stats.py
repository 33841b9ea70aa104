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
modality). Results equal the direct functions (:func:`amumo.gap_distance`,
:func:`amumo.metrics`, ...) to ~1e-15; addition order is the only difference.
Retrieval (recall@k) and InfoNCE are not sums over pairs; see
:mod:`amumo.analysis.retrieval`.

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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from amumo.analysis._checks import check_embeddings
from amumo.analysis.gap_measures import rmg_from_means
from amumo.embeddings._rows import release_rows
from amumo.embeddings.container import Embeddings

__all__ = ["GapStats"]

#: Rows per block when accumulating (float64 working set ~ BLOCK × D × 8 bytes per array).
BLOCK = 4096


class GapStats:
    """Accumulator of the sums behind the O(N·D) modality-gap metrics; mergeable.

    Build it empty, feed it with :meth:`update` (any number of times: shards,
    batches), combine accumulators from other processes or machines with
    :meth:`merge` (or ``+``), read the numbers with :meth:`metrics`. The state
    is a handful of float64 vectors (``M·D + M²`` numbers), JSON-friendly via
    :meth:`to_dict` / :meth:`from_dict` and picklable.

    Parameters
    ----------
    block : int, default 4096
        Rows per block while summing (memory ``~ 3 × block × D × 8`` bytes).

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

    def __init__(self, *, block: int = BLOCK) -> None:
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

    def update(self, emb: Embeddings) -> GapStats:
        """Add the pairs of ``emb`` (in blocks of rows; memory-mapped input is read once).

        Returns ``self`` so calls chain: ``GapStats().update(a).update(b)``.
        """
        emb = check_embeddings(emb)
        self._check_layout(tuple(emb.modalities), emb.dim, "emb")
        n = len(emb)
        names = self.modalities
        assert names is not None
        for start in range(0, n, self.block):
            rows = slice(start, min(n, start + self.block))
            blocks = {m: np.asarray(emb[m][rows], dtype=np.float64) for m in names}
            for m in names:
                self._sum[m] += blocks[m].sum(axis=0)
                self._sumsq[m] += float(np.einsum("ij,ij->", blocks[m], blocks[m]))
                release_rows(emb[m], rows)  # memory-mapped input: keep RSS at one block
            for a, b in self._dot:
                x, y = blocks[a], blocks[b]
                self._dot[(a, b)] += float(np.einsum("ij,ij->", x, y))
                diff = x - y
                sq = np.einsum("ij,ij->i", diff, diff)
                self._dist2[(a, b)] += float(sq.sum())
                self._dist[(a, b)] += float(np.sqrt(sq).sum())
        self.n += n
        return self

    def update_shards(self, folder: str | Path) -> GapStats:
        """Add every shard of a shard folder (:mod:`amumo.embeddings.shards`), zero-copy."""
        from amumo.embeddings.shards import iter_shards

        for shard in iter_shards(folder):
            self.update(shard)
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
        """Rebuild a GapStats from :meth:`to_dict`."""
        out = cls()
        if not state.get("modalities"):
            return out
        out._init(tuple(state["modalities"]), int(state["dim"]))
        out.n = int(state["n"])
        for m in out.modalities or ():
            out._sum[m] = np.asarray(state["sum"][m], dtype=np.float64).copy()
            out._sumsq[m] = float(state["sumsq"][m])
        for entry in state["pairs"]:
            pair = (entry["a"], entry["b"])
            out._dot[pair] = float(entry["dot"])
            out._dist[pair] = float(entry["dist"])
            out._dist2[pair] = float(entry["dist2"])
        return out

    # ------------------------------------------------------------------ results
    def _pair(self, a: str | None, b: str | None) -> tuple[str, str]:
        if self.modalities is None or self.n == 0:
            raise ValueError("this GapStats is empty; call update(emb) first.")
        names = self.modalities
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

    def mean(self, modality: str) -> np.ndarray:
        """Centroid of one modality (float64, (D,))."""
        if self.modalities is None or modality not in self._sum:
            raise ValueError(f"modality={modality!r} is not one of {self.modalities}.")
        return self._sum[modality] / self.n

    def gap_vector(self, a: str | None = None, b: str | None = None) -> np.ndarray:
        """``mean(a) − mean(b)`` (float64), as :func:`amumo.gap_vector`."""
        a, b = self._pair(a, b)
        return self.mean(a) - self.mean(b)

    def cone_cosine(self, modality: str) -> float:
        """Mean cosine of distinct items of ``modality``: ``(‖Σx‖² − Σ‖x‖²) / (N(N − 1))``."""
        if self.n < 2:
            raise ValueError("cone_cosine needs at least 2 items of the modality.")
        total = self._sum[modality]
        return float((total @ total - self._sumsq[modality]) / (self.n * (self.n - 1)))

    def metrics(self, a: str | None = None, b: str | None = None) -> dict[str, float]:
        """Every O(N·D) metric for modalities ``a``, ``b`` (default the first two).

        Keys (same names and values as :func:`amumo.metrics`): ``n_pairs``,
        ``gap_distance``, ``centroid_cosine``, ``paired_cosine``, ``alignment``,
        ``l2i``, ``rmg``, ``cone_cosine:<m>`` for every modality.
        """
        a, b = self._pair(a, b)
        n = self.n
        gap = self.gap_vector(a, b)
        sa, sb = self._sum[a], self._sum[b]
        norm = float(np.linalg.norm(sa) * np.linalg.norm(sb))
        out: dict[str, float] = {
            "n_pairs": float(n),
            "gap_distance": float(np.linalg.norm(gap)),
            "centroid_cosine": float(sa @ sb / norm) if norm > 0 else float("nan"),
            "paired_cosine": self._pair_sum(self._dot, a, b) / n,
            "alignment": self._pair_sum(self._dist2, a, b) / n,
            "l2i": self._pair_sum(self._dist, a, b) / n,
        }
        if n >= 2:
            cones = {m: self.cone_cosine(m) for m in self.modalities or ()}
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
