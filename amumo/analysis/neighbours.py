"""Cross-modal retrieval of single items: nearest neighbours and failed retrievals.

One query costs O(N·D) (one row against every candidate), so the retrieval
view stays interactive at millions of pairs. The table of failures ranks
every query (O(N²·D)) up to ``max_queries`` queries and a seeded sample of
queries beyond, labelled as an estimate.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from amumo.analysis._checks import check_embeddings
from amumo.analysis._progress import Hook
from amumo.analysis.retrieval import TIE, _margin, rank_queries
from amumo.embeddings import _rows
from amumo.embeddings._rows import release_rows, row_blocks, take_rows
from amumo.embeddings.container import Embeddings

__all__ = ["neighbours", "failed_retrievals"]


def _scores(query: np.ndarray, candidates: np.ndarray, exact: bool = True,
            should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Cosines of ``query`` with every candidate row: float64 products, or (``exact=False``)
    float32 products straight from the stored rows (no cast, ~3x faster). ``should_stop()``
    returning True stops between blocks (:class:`amumo.analysis._progress.Cancelled`)."""
    hook = Hook(should_stop=should_stop)
    out = np.empty(len(candidates))
    if not exact:
        q32 = np.asarray(query, dtype=np.float32)
        step = _rows.ROW_BLOCK * 16
        for start in range(0, len(candidates), step):
            out[start:start + step] = np.asarray(candidates[start:start + step]) @ q32
            release_rows(candidates, slice(start, start + step))  # memory-mapped: RSS
            hook.step(start / max(1, len(candidates)))
        return out
    for rows in row_blocks(len(candidates), _rows.ROW_BLOCK):
        block = np.asarray(candidates[rows], dtype=np.float64)
        out[rows] = block @ query
        release_rows(candidates, rows)
        hook.step(rows.start / max(1, len(candidates)))
    return out


def neighbours(
    emb: Embeddings,
    pair: int,
    source: str | None = None,
    target: str | None = None,
    k: int = 5,
    *,
    exact: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """The ``k`` items of ``target`` most similar to item ``pair`` of ``source``.

    Parameters
    ----------
    emb : Embeddings
    pair : int
        Row of the query (0 … N − 1).
    source, target : str, optional
        Query and candidate modalities (default the first two).
    k : int, default 5
    exact : bool, default True
        float64 products. ``False``: float32 products of the stored rows (the
        Explorer's hover above 200,000 pairs); scores then carry ~1e-7 of
        rounding and near-ties may swap in the list; the rank is exact (scores near
        the partner's are re-computed in float64).
    should_stop : callable, optional
        Returning True stops the search between blocks (a newer hover superseded it).

    Returns
    -------
    dict
        ``pairs`` (int list, best first), ``scores`` (cosines), ``true_score``
        (cosine with its own pair, float64), ``rank`` (0-based rank of the true
        partner: the number of candidates whose cosine is higher by more than
        :data:`amumo.analysis.retrieval.TIE`; 0 = retrieved first), ``n_candidates``.
        The partner is listed at position ``rank`` (after exactly the candidates that
        outrank it; before those that tie with it, e.g. a duplicated caption), so the
        list, the rank and recall@1 (:func:`amumo.analysis.retrieval.retrieval_metrics`)
        follow one tie rule.

    Examples
    --------
    >>> import amumo as am
    >>> hit = neighbours(am.datasets.clip_coco500(), 0, k=3)
    >>> hit["rank"], len(hit["pairs"])
    (0, 3)
    >>> hit["pairs"][0]
    0
    """
    emb = check_embeddings(emb)
    source, target = emb.pair_modalities(source, target)
    n = len(emb)
    if isinstance(pair, bool) or int(pair) != pair or not 0 <= int(pair) < n:
        raise ValueError(f"pair={pair!r} must be an integer in 0..{n - 1}.")
    if isinstance(k, bool) or int(k) != k or int(k) < 1:
        raise ValueError(f"k={k!r} must be a positive integer.")
    pair, k = int(pair), min(int(k), n)
    query = np.asarray(emb[source][pair], dtype=np.float64)
    candidates = emb[target]
    scores = _scores(query, candidates, exact=bool(exact), should_stop=should_stop)
    true = float(np.dot(query, np.asarray(candidates[pair], dtype=np.float64)))
    scores[pair] = true
    # The tie rule of amumo.analysis.retrieval: a candidate outranks the partner only when
    # its float64 cosine is higher by more than TIE; scores near that threshold (within the
    # products' rounding) are re-computed in float64 before they are counted.
    margin = _margin(np.float64 if exact else np.float32, len(query))
    above = scores > true + TIE + margin
    near = np.flatnonzero((scores >= true + TIE - margin) & ~above)
    near = near[near != pair]
    rank = int(np.count_nonzero(above))
    if len(near):
        rechecked = take_rows(candidates, near, np.float64) @ query
        rank += int(np.count_nonzero(rechecked > true + TIE))
    top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    top = top[np.lexsort((top, -scores[top]))]  # best first, ties by index
    if rank < k:  # the partner sits right after the candidates that outrank it
        others = top[top != pair][: k - 1]
        top = np.insert(others, rank, pair)
    return {
        "pairs": top.astype(int).tolist(),
        "scores": scores[top].tolist(),
        "true_score": true,
        "rank": rank,
        "n_candidates": n,
    }


def failed_retrievals(
    emb: Embeddings,
    source: str | None = None,
    target: str | None = None,
    *,
    max_rows: int = 50,
    max_queries: int = 2000,
    seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Queries whose own pair is not retrieved first, worst first.

    A query fails when at least one candidate outranks its partner under the tie rule of
    :mod:`amumo.analysis.retrieval` (cosine higher by more than ``TIE``): the failures
    are exactly the queries that recall@1 counts as misses, so with every query ranked
    ``1 − n_failed / n_queries`` equals recall@1. A partner that ties with another
    candidate (a caption repeated word for word) is not a failure.

    Parameters
    ----------
    emb : Embeddings
    source, target : str, optional
        Query and candidate modalities (default the first two).
    max_rows : int, default 50
        Rows of the returned table.
    max_queries : int, default 2000
        Above this many pairs, a seeded random sample of queries is ranked
        (against all candidates) and the failure rate is an estimate.
    seed : int, default 0
    should_stop : callable, optional
        Checked between blocks of candidates; when it returns True the search
        stops with :class:`amumo.analysis._progress.Cancelled` (a newer request
        in a widget supersedes this one).

    Returns
    -------
    table : DataFrame
        ``pair``, ``rank`` (0-based rank of the true partner), ``true_score``,
        ``top_pair`` (what was retrieved first: the most similar other candidate),
        ``top_score``, ``margin``
        (top − true), sorted by rank then margin, at most ``max_rows`` rows.
    summary : dict
        ``n_queries``, ``n_failed``, ``failure_rate``, ``estimate`` (bool),
        ``interval`` (95 % Wilson interval of the rate when estimated).

    Examples
    --------
    >>> import amumo as am
    >>> table, summary = failed_retrievals(am.datasets.clip_coco500())
    >>> summary["n_failed"], summary["estimate"]
    (224, False)
    """
    emb = check_embeddings(emb)
    source, target = emb.pair_modalities(source, target)
    n = len(emb)
    if int(max_queries) < 1 or int(max_rows) < 0:
        raise ValueError("max_queries must be ≥ 1 and max_rows ≥ 0.")
    estimate = n > int(max_queries)
    if estimate:
        rng = np.random.default_rng(seed)
        queries = np.sort(rng.choice(n, size=int(max_queries), replace=False))
    else:
        queries = np.arange(n)
    # The ranking of amumo.analysis.retrieval (blocked, float32 products above
    # FLOAT64_LIMIT candidates with float64 re-checks near the partner's score), so the
    # failures obey the same tie rule as recall@1: ties with the partner are not failures.
    result = rank_queries(emb[source], emb[target], queries, top=True,
                          hook=Hook(should_stop=should_stop))
    ranks, true = result.ranks, result.true_scores
    best, best_score = result.top, result.top_scores
    failed = ranks > 0
    table = pd.DataFrame({
        "pair": queries[failed],
        "rank": ranks[failed],
        "true_score": true[failed],
        "top_pair": best[failed],
        "top_score": best_score[failed],
    })
    table["margin"] = table["top_score"] - table["true_score"]
    table = table.sort_values(["rank", "margin"], ascending=False, kind="stable")
    table = table.head(int(max_rows)).reset_index(drop=True)
    q, k = len(queries), int(failed.sum())
    summary = {
        "source": source,
        "target": target,
        "n_queries": q,
        "n_failed": k,
        "failure_rate": k / q,
        "estimate": bool(estimate),
        "interval": _wilson(k, q) if estimate else (k / q, k / q),
    }
    return table, summary


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)
