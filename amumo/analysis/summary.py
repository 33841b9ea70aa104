"""The compact summaries the views show, computed here so the widgets only display them.

- :func:`gap_metrics`: the numbers of the Explorer's metrics panel (gap, paired
  cosine, RMG, L2I, centroid cosine from :class:`amumo.GapStats`; recall@1 both
  ways and InfoNCE from :mod:`amumo.analysis.retrieval`, exact or on a seeded
  sample of queries), optionally within groups (:func:`grouped_retrieval`).
- :func:`selection_metrics`: gap, RMG, L2I and recall@1 of a selection of pairs,
  the sums exact at any size, recall on at most :data:`SELECTION_RECALL_LIMIT`
  selected pairs.

Memory is ``O(N·D)`` at any N (blocked sums, blocked retrieval).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from amumo.analysis._checks import check_pairs, check_temperature
from amumo.analysis._progress import Cancelled, Hook
from amumo.analysis.retrieval import recall_at_k, resolve_sample, retrieval_metrics
from amumo.analysis.stats import GapStats
from amumo.embeddings import _rows
from amumo.embeddings.container import Embeddings

__all__ = ["gap_metrics", "grouped_retrieval", "selection_metrics", "SELECTION_RECALL_LIMIT"]

#: Above this many selected pairs, recall@1 of a selection uses an evenly spaced sample of
#: this many of them (the sums stay exact).
SELECTION_RECALL_LIMIT = 4000
#: Above this many pairs :func:`gap_metrics` reads the rows once for the sums and both
#: retrieval directions (a sampled estimate) instead of three times.
ONE_PASS_PAIRS = 2_000_000
#: Rows per block of that pass.
PANEL_BLOCK = 16_384
#: The O(N·D) entries of a selection's summary, in the order they are reported.
_SUM_KEYS = ("gap_distance", "rmg", "l2i", "centroid_cosine", "paired_cosine")


def gap_metrics(
    emb: Embeddings,
    temperature: float = 0.01,
    a: str | None = None,
    b: str | None = None,
    *,
    sample: int | str | None = "auto",
    seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
    groups: np.ndarray | None = None,
    progress: Callable[[float], object] | None = None,
) -> dict[str, float]:
    """The numbers of the metrics panel for modalities ``a``, ``b`` (default the first
    two), in memory ``O(N·D)`` at any N.

    Gap distance, paired cosine, RMG, L2I and centroid cosine come exactly from sums
    (:class:`amumo.GapStats`). Recall@1 both ways and InfoNCE are blocked
    (:func:`amumo.analysis.retrieval.retrieval_metrics`): exact up to its
    ``EXACT_LIMIT`` pairs with ``sample="auto"``, above that estimated from a seeded
    sample of queries ranked against **all** candidates, with 95 % intervals in the
    ``<key>:ci_low`` / ``<key>:ci_high`` entries and ``retrieval_exact`` = 0.
    ``should_stop()`` returning True stops between blocks
    (:class:`amumo.analysis.retrieval.Cancelled`). ``groups`` (one label per pair,
    e.g. the level of an augmentation): recall and InfoNCE come from
    :func:`grouped_retrieval`, so that a caption repeated once per level is not its
    own copies' negative. ``progress(fraction)`` reports the sums' pass (the first
    third) and the retrieval (the rest).

    Examples
    --------
    >>> import amumo as am
    >>> m = gap_metrics(am.datasets.clip_coco500())
    >>> round(m["gap_distance"], 3), m["recall@1:image->text"], m["retrieval_exact"]
    (0.851, 0.552, 1.0)
    """
    emb = check_pairs(emb)
    a, b = emb.pair_modalities(a, b)
    hook = Hook(progress, should_stop)
    count = resolve_sample(sample, len(emb))
    if groups is None and count is not None and len(emb) > ONE_PASS_PAIRS:
        sums, ranked = _one_pass(emb, a, b, temperature, count, seed, progress, should_stop)
    elif progress is None:
        sums = GapStats().update(emb).metrics(a, b)
    else:
        sums = GapStats().update(emb, progress=hook.sub(0.0, 1 / 3).step,
                                 should_stop=should_stop).metrics(a, b)
    if should_stop is not None and should_stop():
        raise Cancelled
    if groups is None and count is not None and len(emb) > ONE_PASS_PAIRS:
        pass  # from the one pass above
    elif groups is None:
        ranked = retrieval_metrics(
            emb, a, b, temperature, ks=(1,), sample=sample, seed=seed, should_stop=should_stop,
            progress=None if progress is None else hook.sub(1 / 3, 2 / 3).step,
        )
    else:
        ranked = grouped_retrieval(emb, groups, a, b, temperature, should_stop=should_stop)
    out = {
        "gap_distance": sums["gap_distance"],
        "info_nce": ranked["info_nce"],
        f"recall@1:{a}->{b}": ranked[f"recall@1:{a}->{b}"],
        f"recall@1:{b}->{a}": ranked[f"recall@1:{b}->{a}"],
        "paired_cosine": sums["paired_cosine"],
        "rmg": sums["rmg"],
        "l2i": sums["l2i"],
        "centroid_cosine": sums["centroid_cosine"],
    }
    for key in list(out):
        for end in (":ci_low", ":ci_high"):
            if key + end in ranked:
                out[key + end] = ranked[key + end]
    out["retrieval_queries"] = ranked["retrieval_queries"]
    out["retrieval_exact"] = ranked["retrieval_exact"]
    return out


def _one_pass(
    emb: Embeddings, a: str, b: str, temperature: float, count: int, seed: int,
    progress: Callable[[float], object] | None, should_stop: Callable[[], bool] | None,
) -> tuple[dict[str, float], dict[str, float]]:
    """The panel's sums and both retrieval directions from ONE read of the rows (above
    :data:`ONE_PASS_PAIRS`: three passes over 20 GB would take minutes): the same query
    sample as :func:`retrieval_metrics`, ranked against all candidates."""
    from amumo.analysis.retrieval import QueryRanks, summarise_ranks
    from amumo.analysis.streaming import RowPass

    temperature = check_temperature(temperature)
    rng = np.random.default_rng(seed)
    queries = np.sort(rng.choice(len(emb), size=count, replace=False))
    consumers = [
        GapStats.consumer((a, b), emb.dim),
        QueryRanks(emb[a], emb[b], queries, 0, 1, temperature),
        QueryRanks(emb[b], emb[a], queries, 1, 0, temperature),
    ]
    # blocks of PANEL_BLOCK rows: the query products run on 250 x 16,384 blocks (4,096-row
    # blocks made the retrieval part ~1.5x slower); the sums take them 1,024 rows at a time
    stats, forward, backward = RowPass(emb, (a, b), block=PANEL_BLOCK).run(
        consumers, progress=progress, should_stop=should_stop)
    return stats.metrics(a, b), summarise_ranks(a, b, forward, backward, (1,), True)


def grouped_retrieval(
    emb: Embeddings,
    groups: Any,
    a: str,
    b: str,
    temperature: float,
    *,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float]:
    """Recall@1 both ways and InfoNCE within each group, averaged (weights: group sizes).

    Exact within every group. ``groups`` holds one label per pair.

    Examples
    --------
    >>> import amumo as am, numpy as np
    >>> emb = am.datasets.clip_coco500()
    >>> r = grouped_retrieval(emb, np.arange(500) % 2, "image", "text", 0.01)
    >>> r["retrieval_queries"], r["recall@1:image->text"] >= 0.552
    (500.0, True)
    """
    groups = np.asarray(groups)
    if len(groups) != len(emb):
        raise ValueError(f"groups has {len(groups)} labels for {len(emb)} pairs.")
    keys = ("info_nce", f"recall@1:{a}->{b}", f"recall@1:{b}->{a}")
    totals = dict.fromkeys(keys, 0.0)
    for group in np.unique(groups):
        index = np.flatnonzero(groups == group)
        part = retrieval_metrics(emb.subset(index), a, b, temperature, ks=(1,), sample=None,
                                 should_stop=should_stop)
        for key in keys:
            totals[key] += part[key] * len(index)
    out = {key: value / len(emb) for key, value in totals.items()}
    out["retrieval_queries"] = float(len(emb))
    out["retrieval_exact"] = 1.0
    return out


def selection_metrics(
    emb: Embeddings, positions: Any, a: str | None = None, b: str | None = None
) -> dict[str, Any]:
    """Gap, RMG, L2I, centroid and paired cosine, and recall@1 (both ways) of the pairs at
    ``positions`` of ``emb``.

    The sums are exact at any size (:class:`amumo.GapStats`, fed one block of
    positions at a time: no copy of the whole selection). Retrieval runs among
    the selected pairs; above :data:`SELECTION_RECALL_LIMIT` of them among an
    evenly spaced sample of that many (``recall_sampled`` then says how many).
    Fewer than 2 pairs: ``{}``.

    Examples
    --------
    >>> import amumo as am
    >>> m = selection_metrics(am.datasets.clip_coco500(), np.arange(50))
    >>> m["n"], round(m["gap_distance"], 3) > 0.8
    (50, True)
    """
    positions = np.asarray(positions, dtype=np.int64)
    if len(positions) < 2:
        return {}
    a, b = emb.pair_modalities(a, b)
    stats = GapStats()
    for rows in _rows.row_blocks(len(positions), _rows.ROW_BLOCK):
        stats.update(emb.subset(positions[rows]), (a, b))
    exact = stats.metrics(a, b)
    summary: dict[str, Any] = {key: exact[key] for key in _SUM_KEYS}
    sampled = len(positions) > SELECTION_RECALL_LIMIT
    queries = positions
    if sampled:
        queries = positions[np.linspace(0, len(positions) - 1, SELECTION_RECALL_LIMIT).astype(int)]
    among = emb.subset(queries)
    summary[f"recall@1:{a}->{b}"] = recall_at_k(among, 1, a, b)[1]
    summary[f"recall@1:{b}->{a}"] = recall_at_k(among, 1, b, a)[1]
    if sampled:
        summary["recall_sampled"] = SELECTION_RECALL_LIMIT
    summary["n"] = int(len(positions))
    return summary
