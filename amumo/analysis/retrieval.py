"""Blocked retrieval (recall@k) and InfoNCE, exact or on a seeded sample of queries.

No N × N matrix is formed: a block of queries is compared with a block of
candidates at a time (memory ``O(block_q · block_c)``, a few tens of MB), and
per query a running count of "candidates more similar than the true partner"
and a running log-sum-exp of the logits are kept.

Exactness
---------
Similarities are computed in float64 for small problems (``N ≤ 5,000`` pairs,
the figures must not change) and float32 otherwise (twice as fast, half the
memory). Ranks are nevertheless exactly those of float64: every candidate whose
float32 similarity lies within the float32 error bound ``2·D·2⁻²⁴`` of the true
partner's is re-compared in float64. InfoNCE from float32 logits differs from
float64 by ~1e-6 (measured on clip_coco500 at τ = 0.01).

Ties
----
One rule everywhere (recall@k and InfoNCE ranks here, the failed-retrievals table and the
hover's rank in :mod:`amumo.analysis.neighbours`, the Explorer's panels): a candidate
outranks the true partner only when its cosine exceeds the partner's by more than
:data:`TIE`. Candidates that tie with the partner, such as a caption repeated word for
word (its embedding is bit-identical), do not push it down: the rank of a query is the
number of candidates *strictly* more similar, and recall@1 counts a query as retrieved
when no other candidate beats its partner. (An ``argmax`` over the scores instead
breaks ties by position, so on duplicated captions it reports failures that depend on
the order of the rows.)

Estimates
---------
Above :data:`EXACT_LIMIT` pairs, :func:`retrieval_metrics` (and
:func:`amumo.metrics` with ``sample="auto"``) draws a seeded sample of
:data:`AUTO_SAMPLE` queries per direction (fewer above 500,000 pairs, see
:func:`resolve_sample`; without replacement) and ranks each
against **all** N candidates, so every per-query value is exact and only the
average is estimated. Recall gets a Wilson score interval, InfoNCE a normal
interval from the per-query terms (both at ``confidence``, default 95 %,
conservative: no finite-population correction). The interval keys are
``recall@k:<a>-><b>:ci_low`` / ``:ci_high`` and ``info_nce:ci_low`` /
``:ci_high``; ``retrieval_queries`` says how many queries per direction were
used and ``retrieval_exact`` is 1.0 or 0.0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import sqrt
from typing import Any

import numpy as np
from scipy.special import ndtri

from amumo._util import map_in_threads
from amumo.analysis._checks import check_pairs, check_temperature
from amumo.analysis._progress import Cancelled, Hook
from amumo.embeddings._rows import release_rows, take_rows
from amumo.embeddings.container import Embeddings

__all__ = [
    "TIE",
    "EXACT_LIMIT",
    "AUTO_SAMPLE",
    "FLOAT64_LIMIT",
    "QueryResult",
    "rank_queries",
    "recall_at_k",
    "retrieval_metrics",
    "wilson_interval",
    "resolve_sample",
    "Cancelled",
    "QueryRanks",
    "summarise_ranks",
]

#: ``sample="auto"`` is exact up to this many pairs.
EXACT_LIMIT = 10_000
#: Queries per direction drawn by ``sample="auto"`` above :data:`EXACT_LIMIT` ...
AUTO_SAMPLE = 1_000
#: ... unless queries × candidates would exceed this (then fewer, down to MIN_SAMPLE):
#: 1,000 queries up to 500,000 pairs, 500 at 1M, 250 from 2M pairs on.
AUTO_WORK = 500_000_000
MIN_SAMPLE = 250
#: Products are float64 up to this many candidates, float32 above.
FLOAT64_LIMIT = 5_000
#: Similarity entries per block (query block × candidate block); 8M entries = 32 MB float32.
BLOCK_ENTRIES = 1 << 23
#: The tie rule (see the module docstring): a candidate outranks the true partner only when
#: its float64 cosine exceeds the partner's by more than this. Far above the rounding of a
#: float64 product of unit float32 rows (~1e-13 at D = 512), far below any real difference
#: between two distinct embeddings.
TIE = 1e-12


@dataclass
class QueryResult:
    """Per-query results of :func:`rank_queries`.

    Attributes
    ----------
    queries : ndarray of int
        Row indices of the queries (into ``x``).
    ranks : ndarray of int64
        Candidates strictly more similar than the true partner (0 = retrieved first).
    nce : ndarray of float64 or None
        ``logsumexp_j(s_ij / τ) − s_ii / τ`` per query (the InfoNCE term), if a
        temperature was given.
    n_candidates : int
    top : ndarray of int64 or None
        With ``top=True``: per query the most similar candidate other than its own
        partner (what is retrieved first when the query fails).
    top_scores : ndarray of float64 or None
        Their cosines (float64).
    true_scores : ndarray of float64 or None
        Cosine of each query with its own partner (float64).
    """

    queries: np.ndarray
    ranks: np.ndarray
    nce: np.ndarray | None
    n_candidates: int
    top: np.ndarray | None = None
    top_scores: np.ndarray | None = None
    true_scores: np.ndarray | None = None


def _precision(precision: str, n_candidates: int) -> type[np.floating]:
    if precision == "auto":
        return np.float64 if n_candidates <= FLOAT64_LIMIT else np.float32
    if precision in ("float32", "float64"):
        return np.float32 if precision == "float32" else np.float64
    raise ValueError(f"precision={precision!r} must be 'auto', 'float32' or 'float64'.")


def _dot64(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise float64 dot products (the reference every comparison is checked against)."""
    return np.einsum("ij,ij->i", np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))


def _rows(array: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``array[index]`` without mapping the whole of a memory-mapped file (take_rows)."""
    return take_rows(array, index)


class _Running:
    """Running rank counts and log-sum-exp for a set of queries (rows or columns of S)."""

    def __init__(self, count: int) -> None:
        self.ranks = np.zeros(count, dtype=np.int64)
        self.max = np.full(count, -np.inf)
        self.sum = np.zeros(count)

    def add_lse(self, logits: np.ndarray, where: slice, axis: int, scratch: np.ndarray) -> None:
        """Fold ``logsumexp`` of ``logits`` along ``axis`` into the queries ``where``."""
        block_max = logits.max(axis=axis).astype(np.float64)
        new_max = np.maximum(self.max[where], block_max)
        shift = new_max.astype(logits.dtype)
        np.subtract(logits, shift[:, None] if axis == 1 else shift[None, :], out=scratch)
        np.exp(scratch, out=scratch)
        # along rows numpy sums pairwise (relative error ~log2(n)·2⁻²⁴): float32 suffices
        total = scratch.sum(axis=axis, dtype=np.float64 if axis == 0 else None)
        total = total.astype(np.float64)
        self.sum[where] = self.sum[where] * np.exp(self.max[where] - new_max) + total
        self.max[where] = new_max

    def nce(self, true: np.ndarray, temperature: float) -> np.ndarray:
        return self.max + np.log(self.sum) - true / temperature


def _margin(dtype: type[np.floating], d: int) -> float:
    """Bound on |float product − float64 reference| for unit rows.

    The stored rows are exact in the product's precision, so the product's error is at
    most ``γ_D Σ|x_i y_i| ≤ D·u`` (Higham, *Accuracy and Stability of Numerical
    Algorithms*, §3.1; ``Σ|x_i y_i| ≤ 1`` for unit rows), ``u`` the unit roundoff; a few
    ``u`` more cover scaling the query by ``1/τ`` and rounding the thresholds.
    """
    if dtype == np.float64:
        return (d + 4) * 2.0**-53
    return (d + 4) * 2.0**-24


def _count_greater(
    sims: np.ndarray, true: np.ndarray, margin: float, axis: int,
    query_ids: np.ndarray, cand_ids: np.ndarray, queries: np.ndarray, candidates: np.ndarray,
    scale: float = 1.0,
) -> np.ndarray:
    """Per query (rows if axis=1, columns if axis=0): candidates that outrank its partner,
    i.e. whose float64 cosine exceeds the partner's by more than :data:`TIE`.

    ``sims`` holds the block's cosines times ``scale`` (the logits when ``scale = 1/τ``).
    Clear cases are counted from ``sims``; values within ``margin`` of the threshold are
    re-compared in float64 from ``queries`` (the block's query rows, in the order of that
    axis of ``sims``) and ``candidates`` (the block's candidate rows).
    """
    hi = ((true + TIE + margin) * scale).astype(sims.dtype)
    lo = ((true - margin) * scale).astype(sims.dtype)  # wide enough to hold the partner itself
    # The partner itself always lies in the band when it is among the candidates.
    own = np.isin(query_ids, cand_ids, assume_unique=True)
    if axis == 1:  # one contiguous row per query: counting row by row is ~2.5x faster
        greater = np.empty(len(true), dtype=np.int64)
        band = np.empty(len(true), dtype=np.int64)
        for k, line in enumerate(sims):
            greater[k] = np.count_nonzero(line > hi[k])
            band[k] = np.count_nonzero(line >= lo[k])
        band -= greater
    else:
        greater = np.count_nonzero(sims > hi[None, :], axis=0)
        band = np.count_nonzero(sims >= lo[None, :], axis=0) - greater
    band -= own
    for k in np.flatnonzero(band > 0):
        line = sims[k] if axis == 1 else sims[:, k]
        near = np.flatnonzero((line >= lo[k]) & (line <= hi[k]))
        near = near[cand_ids[near] != query_ids[k]]
        if len(near):
            exact = np.asarray(candidates[near], dtype=np.float64) @ np.asarray(
                queries[k], dtype=np.float64)
            greater[k] += int(np.count_nonzero(exact > true[k] + TIE))
    return greater


def _fold_top(
    sims: np.ndarray, rows: slice, qids: np.ndarray, cols: slice,
    best: np.ndarray, best_value: np.ndarray,
) -> None:
    """Fold the block's most similar candidate per query (its own partner excluded) into
    ``best`` / ``best_value`` (rows ``rows`` of them)."""
    own = np.flatnonzero((qids >= cols.start) & (qids < cols.stop))
    where = (own, qids[own] - cols.start)
    saved = sims[where].copy()
    sims[where] = -np.inf
    arg = np.argmax(sims, axis=1)
    value = sims[np.arange(len(arg)), arg].astype(np.float64)
    sims[where] = saved
    better = value > best_value[rows]
    best[rows] = np.where(better, cols.start + arg, best[rows])
    best_value[rows] = np.where(better, value, best_value[rows])


def rank_queries(
    x: np.ndarray,
    y: np.ndarray,
    queries: np.ndarray | None = None,
    temperature: float | None = None,
    *,
    precision: str = "auto",
    hook: Hook | None = None,
    both: bool = False,
    top: bool = False,
) -> QueryResult | tuple[QueryResult, QueryResult]:
    """Rank, for each query row ``x[i]``, its partner ``y[i]`` among all rows of ``y``.

    The rank is the number of candidates that outrank the partner under the tie rule
    of this module (cosine higher by more than :data:`TIE`).

    Parameters
    ----------
    x, y : ndarray (N, D)
        Unit rows; row ``i`` of ``x`` is paired with row ``i`` of ``y``.
    queries : ndarray of int, optional
        Which rows of ``x`` query (default all).
    temperature : float, optional
        Also compute the InfoNCE term of each query at this temperature.
    precision : {"auto", "float32", "float64"}
        Product precision (ranks are exact either way; see the module docstring).
    hook : Hook, optional
        Progress / cancellation.
    both : bool, default False
        With ``queries=None``: also return the ``y → x`` results from the same
        products (each block of similarities serves its rows and its columns).
    top : bool, default False
        Also find, per query, the most similar candidate other than its partner
        (``QueryResult.top`` / ``top_scores``; picked from the block products, its
        score recomputed in float64). Not with ``both=True``.

    Returns
    -------
    QueryResult, or (x→y, y→x) results with ``both=True``

    Examples
    --------
    >>> import numpy as np
    >>> x = np.eye(3); y = np.eye(3)[[0, 2, 1]]
    >>> rank_queries(x, y).ranks.tolist()
    [0, 1, 1]
    """
    n, d = y.shape
    if both and queries is not None:
        raise ValueError("both=True ranks every row and column; pass queries=None.")
    if both and top:
        raise ValueError("top=True is for one direction; pass both=False.")
    q = np.arange(len(x)) if queries is None else np.asarray(queries, dtype=np.intp)
    dtype = _precision(precision, n)
    margin = _margin(dtype, d)
    true = _dot64(_rows(x, q), _rows(y, q))
    rows_run = _Running(len(q))
    cols_run = _Running(n) if both else None
    with_nce = temperature is not None
    scale = 1.0 / temperature if with_nce else 1.0
    qb = max(1, min(len(q), 1024))
    cb = max(1, min(n, BLOCK_ENTRIES // qb))
    total = -(-len(q) // qb) * -(-n // cb)
    done = 0
    scratch_full = np.empty(qb * cb, dtype=dtype)
    best = np.zeros(len(q), dtype=np.int64) if top else None
    best_value = np.full(len(q), -np.inf) if top else None
    for qs in range(0, len(q), qb):
        rows = slice(qs, min(len(q), qs + qb))
        qids = q[rows]
        xrows = _rows(x, qids)
        # With InfoNCE the queries are scaled by 1/τ once, so the products are the logits.
        xq = np.multiply(xrows, scale, dtype=dtype)
        for cs in range(0, n, cb):
            cols = slice(cs, min(n, cs + cb))
            cids = np.arange(cols.start, cols.stop)
            yrows = y[cols]
            sims = xq @ np.asarray(yrows, dtype=dtype).T
            rows_run.ranks[rows] += _count_greater(sims, true[rows], margin, 1, qids, cids,
                                                   xrows, yrows, scale)
            if cols_run is not None:
                cols_run.ranks[cols] += _count_greater(
                    sims, true[cols], margin, 0, cids, qids, yrows, xrows, scale
                )
            if best is not None and best_value is not None:
                _fold_top(sims, rows, qids, cols, best, best_value)
            if with_nce:
                scratch = scratch_full[: sims.size].reshape(sims.shape)
                rows_run.add_lse(sims, rows, 1, scratch)
                if cols_run is not None:
                    cols_run.add_lse(sims, cols, 0, scratch)
            release_rows(y, cols)  # memory-mapped candidates: RSS of one block
            del sims  # one block of scores alive at a time
            done += 1
            if hook is not None:
                hook.step(done / total)
    forward = QueryResult(q, rows_run.ranks,
                          rows_run.nce(true, temperature) if with_nce else None, n,
                          true_scores=true)
    if best is not None:
        forward.top = best
        forward.top_scores = _dot64(_rows(x, q), _rows(y, best)) if n > 1 else best_value / scale
    if cols_run is None:
        return forward
    backward = QueryResult(np.arange(n), cols_run.ranks,
                           cols_run.nce(true, temperature) if with_nce else None, len(x),
                           true_scores=true)
    return forward, backward


class QueryRanks:
    """Consumer of :class:`amumo.analysis.streaming.RowPass`: :func:`rank_queries` of fixed
    queries, fed one block of candidates at a time by a pass that also serves other
    results (the metrics panel of ten million pairs: sums and both retrieval directions
    from one read of the rows).

    ``source`` / ``target`` index the query and candidate modality in the pass's
    ``names``; ``x`` / ``y`` are those arrays (for the float64 re-check of near ties).
    Ranks are exact as in :func:`rank_queries`; the log-sum-exp of each range is merged
    in range order (InfoNCE to ~1e-12 of the sequential value).
    """

    def __init__(self, x: Any, y: Any, queries: np.ndarray, source: int, target: int,
                 temperature: float, precision: str = "auto") -> None:
        self.x, self.y = x, y
        self.queries = np.asarray(queries, dtype=np.intp)
        self.source, self.target = int(source), int(target)
        self.temperature = float(temperature)
        n, d = y.shape
        self.dtype = _precision(precision, n)
        self.margin = _margin(self.dtype, d)
        self.xrows = _rows(x, self.queries)
        self.true = _dot64(self.xrows, _rows(y, self.queries))
        # as rank_queries: the queries scaled by 1/τ once, so the products are the logits
        self.scale = 1.0 / self.temperature
        self.xq = np.multiply(self.xrows, self.scale, dtype=self.dtype)
        self.n = n

    def part(self) -> _Running:
        return _Running(len(self.queries))

    def add(self, state: _Running, rows: slice, blocks: list[np.ndarray]) -> None:
        every = slice(0, len(self.queries))
        cands = blocks[self.target]
        step = max(1, BLOCK_ENTRIES // max(1, len(self.queries)))
        for start in range(0, cands.shape[0], step):
            part = cands[start : start + step]
            ids = np.arange(rows.start + start, rows.start + start + len(part))
            sims = self.xq @ np.asarray(part, dtype=self.dtype).T
            state.ranks += _count_greater(sims, self.true, self.margin, 1, self.queries, ids,
                                          self.xrows, part, self.scale)
            state.add_lse(sims, every, 1, np.empty_like(sims))

    def merge(self, states: list[_Running]) -> QueryResult:
        total = _Running(len(self.queries))
        for state in states:  # range order
            total.ranks += state.ranks
            top = np.maximum(total.max, state.max)
            with np.errstate(invalid="ignore"):  # -inf - -inf for an empty range
                total.sum = (np.where(np.isfinite(total.max), total.sum * np.exp(total.max - top),
                                      0.0)
                             + np.where(np.isfinite(state.max),
                                        state.sum * np.exp(state.max - top), 0.0))
            total.max = top
        return QueryResult(self.queries, total.ranks, total.nce(self.true, self.temperature),
                           self.n, true_scores=self.true)


def summarise_ranks(
    a: str, b: str, forward: QueryResult, backward: QueryResult, ks: Sequence[int],
    sampled: bool, confidence: float = 0.95,
) -> dict[str, float]:
    """The dict of :func:`retrieval_metrics` from the two directions' per-query results."""
    m = len(forward.ranks)
    out: dict[str, float] = {}
    for src, dst, result in ((a, b, forward), (b, a, backward)):
        for k in ks:
            hits = int(np.count_nonzero(result.ranks < k))
            key = f"recall@{k}:{src}->{dst}"
            out[key] = hits / m
            if sampled:
                out[f"{key}:ci_low"], out[f"{key}:ci_high"] = wilson_interval(hits, m, confidence)
    assert forward.nce is not None and backward.nce is not None
    out["info_nce"] = float((forward.nce.mean() + backward.nce.mean()) / 2.0)
    if sampled:
        z = float(ndtri(0.5 + confidence / 2.0))
        se = 0.5 * sqrt(forward.nce.var(ddof=1) / m + backward.nce.var(ddof=1) / m) if m > 1 \
            else float("inf")
        out["info_nce:ci_low"] = out["info_nce"] - z * se
        out["info_nce:ci_high"] = out["info_nce"] + z * se
    out["retrieval_queries"] = float(m)
    out["retrieval_exact"] = 0.0 if sampled else 1.0
    return out


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Examples
    --------
    >>> lo, hi = wilson_interval(50, 100)
    >>> round(lo, 4), round(hi, 4)
    (0.4038, 0.5962)
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    z = float(ndtri(0.5 + confidence / 2.0))
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def resolve_sample(sample: int | str | None, n: int) -> int | None:
    """Queries per direction for ``sample`` (None = exact, all N).

    ``"auto"``: exact up to :data:`EXACT_LIMIT` pairs, else :data:`AUTO_SAMPLE`
    queries, fewer (down to :data:`MIN_SAMPLE`) where queries × N would exceed
    :data:`AUTO_WORK`, so the time stays bounded. An int ≥ N means exact.

    >>> [resolve_sample("auto", n) for n in (5_000, 100_000, 10**6, 10**7)]
    [None, 1000, 500, 250]
    """
    if sample is None:
        return None
    if isinstance(sample, str):
        if sample != "auto":
            raise ValueError(f"sample={sample!r} must be 'auto', None (exact) or an integer.")
        if n <= EXACT_LIMIT:
            return None
        return int(min(AUTO_SAMPLE, max(MIN_SAMPLE, AUTO_WORK // n)))
    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or sample < 1:
        raise ValueError(
            f"sample={sample!r} must be 'auto', None (exact) or a positive number of queries."
        )
    return None if int(sample) >= n else int(sample)


def retrieval_metrics(
    emb: Embeddings,
    a: str | None = None,
    b: str | None = None,
    temperature: float = 0.01,
    ks: Sequence[int] = (1, 5, 10),
    *,
    sample: int | str | None = "auto",
    seed: int = 0,
    confidence: float = 0.95,
    precision: str = "auto",
    progress: Callable[[float], object] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float]:
    """Recall@k both ways and symmetric InfoNCE, blocked; exact or estimated.

    Parameters
    ----------
    emb : Embeddings
    a, b : str, optional
        Modalities (default the first two).
    temperature : float, default 0.01
    ks : sequence of int, default (1, 5, 10)
    sample : "auto", None or int, default "auto"
        None: every item queries (exact). int: that many seeded queries per
        direction, each against all candidates. "auto": exact up to
        :data:`EXACT_LIMIT` pairs, else 1,000 queries (fewer above 500,000
        pairs, see :func:`resolve_sample`).
    seed : int, default 0
    confidence : float, default 0.95
        Level of the intervals reported for estimates.
    precision : {"auto", "float32", "float64"}
    progress, should_stop : callable, optional
        ``progress(fraction)`` between blocks; ``should_stop()`` returning True
        raises :class:`Cancelled`.

    Returns
    -------
    dict
        ``recall@k:<a>-><b>``, ``recall@k:<b>-><a>``, ``info_nce``,
        ``retrieval_queries``, ``retrieval_exact``; for estimates also
        ``<key>:ci_low`` and ``<key>:ci_high`` for each of those.

    Examples
    --------
    >>> import amumo as am
    >>> r = retrieval_metrics(am.datasets.clip_coco500(), ks=(1,))
    >>> r["recall@1:image->text"], round(r["info_nce"], 4), r["retrieval_exact"]
    (0.552, 1.8009, 1.0)
    """
    emb = check_pairs(emb)
    a, b = emb.pair_modalities(a, b)
    temperature = check_temperature(temperature)
    if not 0 < float(confidence) < 1:
        raise ValueError(f"confidence={confidence!r} must be between 0 and 1 (e.g. 0.95).")
    n = len(emb)
    count = resolve_sample(sample, n)
    hook = Hook(progress, should_stop)
    if count is None:
        queries = None
    else:
        rng = np.random.default_rng(seed)
        queries = np.sort(rng.choice(n, size=count, replace=False))
    x, y = emb[a], emb[b]
    if queries is None:  # exact: one pass, each block of S serves its rows and its columns
        forward, backward = rank_queries(x, y, None, temperature, precision=precision,
                                         hook=hook, both=True)
    else:  # the two directions are independent: one thread each (numpy releases the GIL)
        hooks = hook.split(2)
        forward, backward = map_in_threads(
            lambda job: rank_queries(job[0], job[1], queries, temperature,
                                     precision=precision, hook=job[2]),
            [(x, y, hooks[0]), (y, x, hooks[1])], name="amumo-retrieval",
        )
    return summarise_ranks(a, b, forward, backward, ks, count is not None, confidence)


def recall_at_k(
    emb: Embeddings,
    k: int | Sequence[int] = (1, 5, 10),
    a: str | None = None,
    b: str | None = None,
) -> dict[int, float]:
    """Retrieval recall ``a → b``: fraction of ``a_i`` whose pair ``b_i`` ranks in the top k.

    Ranks count the items strictly more similar than the true pair.

    Examples
    --------
    >>> import amumo as am
    >>> am.recall_at_k(am.datasets.clip_coco500(), 1)[1]
    0.552
    """
    emb = check_pairs(emb)
    a, b = emb.pair_modalities(a, b)
    ks = _check_ks(k, len(emb), "k")
    # Blocked (memory O(block · N)), exact float64 ranks.
    ranks = rank_queries(emb[a], emb[b]).ranks
    return {int(value): float(np.mean(ranks < value)) for value in ks}


def _check_ks(k: Any, n: int, argument: str) -> list[int]:
    """``k`` (one or several) as positive ints no larger than ``n``, else a clear error.

    ``k > N`` would give recall 1.0 by construction (every candidate is in the top k),
    so it is refused rather than reported.
    """
    single = np.isscalar(k) or isinstance(k, str)
    values = [k] if single else list(k)
    if not values:
        raise ValueError(f"{argument} is empty; pass at least one k, e.g. (1, 5, 10).")
    prefix = "" if single else f"{argument}={tuple(values)!r}: "
    out = []
    for value in values:
        what = f"{prefix}k={value!r}"
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"{what} must be a positive integer such as 1, 5 or 10.")
        if not float(value).is_integer() or value < 1:
            raise ValueError(f"{what} must be a positive integer such as 1, 5 or 10.")
        if value > n:
            raise ValueError(
                f"{what} but there are only N={n} candidates, so "
                f"recall@{int(value)} would be 1.0 by construction; use k <= {n}."
            )
        out.append(int(value))
    return out
