"""Searching the pairs with one query row: its exact top-k in every modality.

A typed query, an image or "more like this" is one unit row ``q``; its neighbours are the
rows with the largest cosine ``q · x`` (rows are unit length). One query costs one
``N × D`` product per modality, done block by block over the (possibly memory-mapped)
rows, so it stays well under a second at a million pairs and never holds more than a
block beside the rows.

Exactness and ties
------------------
The blocks are multiplied in float32 (what the rows are stored in; half the memory
traffic of float64). Each block keeps its best ``k`` candidates (``argpartition``) and
every row whose float32 cosine lies within the float32 error bound of the running
k-th best; at the end those few candidates are re-scored in float64 and ranked. So the
result is exactly the top-k of the float64 products ``x.astype(float64) @ q`` (what a
brute-force product gives), with the scores in float64. Equal cosines are ordered by
row index (the lower index first) — a query has no "true partner", so this is the
whole tie rule here; it is the order :func:`amumo.analysis.neighbours.neighbours` lists
candidates in.

Examples
--------
>>> import numpy as np, amumo as am
>>> emb = am.datasets.clip_coco500()
>>> rows, scores = top_k(emb["text"][2], emb["image"], k=3)
>>> int(rows[0])  # the image of pair 2 is its caption's nearest image
2
>>> brute = np.asarray(emb["image"], dtype=np.float64) @ np.asarray(emb["text"][2], float)
>>> bool(np.array_equal(rows, np.argsort(-brute, kind="stable")[:3]))
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from amumo._util import map_in_threads
from amumo.analysis._progress import Cancelled
from amumo.analysis.retrieval import _margin
from amumo.embeddings import _rows
from amumo.embeddings._rows import release_rows, take_rows
from amumo.embeddings.container import Embeddings

__all__ = ["top_k", "search", "check_query", "SEARCH_BLOCK", "PARALLEL_ROWS"]

#: Rows multiplied at a time (float32: 4 × ROW_BLOCK rows of 512 dims = 32 MiB read per
#: block; the product itself allocates only the block's scores).
SEARCH_BLOCK = 4 * _rows.ROW_BLOCK
#: From this many rows (over all searched modalities) the rows are split into ranges
#: searched in threads, one per core (BLAS and numpy release the GIL); the split depends
#: on the sizes only, and the merge is exact, so results never depend on the machine.
PARALLEL_ROWS = 200_000
#: Ranges per modality when searching in threads.
PARTS = 4


def check_query(query: Any, dim: int, what: str = "query") -> np.ndarray:
    """``query`` as a float64 unit row of ``dim`` values, or a ``ValueError`` saying why not.

    Examples
    --------
    >>> check_query([3.0, 4.0], 2).tolist()
    [0.6, 0.8]
    """
    row = np.array(query, dtype=np.float64)
    if row.ndim == 2 and row.shape[0] == 1:
        row = row[0]
    if row.ndim != 1 or row.shape[0] != int(dim):
        raise ValueError(
            f"{what} has shape {row.shape}; it must be one row of {dim} values (the "
            "embeddings' dimension): encode it with the encoder that made the embeddings."
        )
    if not np.all(np.isfinite(row)):
        raise ValueError(f"{what} holds NaN or Inf; the encoder returned no usable row.")
    norm = float(np.linalg.norm(row))
    if norm == 0.0:
        raise ValueError(f"{what} is all zeros; a zero row has no direction to search for.")
    return row / norm


def _collect(
    q32: np.ndarray, rows: np.ndarray, lo: int, hi: int, k: int, band: float,
    should_stop: Callable[[], bool] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates of rows ``lo … hi``: indices and float32 scores of every row that may be
    among the float64 top ``k`` (scores within ``band`` of the running k-th best)."""
    keep_idx: list[np.ndarray] = []
    keep_score: list[np.ndarray] = []
    kept = 0
    threshold = -np.inf  # the k-th best float32 score kept so far (only grows)
    for start in range(lo, hi, SEARCH_BLOCK):
        if should_stop is not None and should_stop():
            raise Cancelled("search superseded")
        stop = min(hi, start + SEARCH_BLOCK)
        block = np.asarray(rows[start:stop])
        scores = block @ q32 if block.dtype == np.float32 else block.astype(np.float32) @ q32
        release_rows(rows, slice(start, stop))  # memory-mapped rows: RSS of one block
        if len(scores) > k:
            local = float(np.partition(scores, len(scores) - k)[len(scores) - k])
        else:
            local = float(scores.min())
        cut = max(threshold, local) - band
        hits = np.flatnonzero(scores >= cut)
        keep_idx.append(hits + start)
        keep_score.append(scores[hits])
        kept += len(hits)
        if kept > 4 * k + 64:  # prune what the rising threshold rules out
            idx, sc = np.concatenate(keep_idx), np.concatenate(keep_score)
            threshold = float(np.partition(sc, len(sc) - k)[len(sc) - k])
            ok = sc >= threshold - band
            keep_idx, keep_score, kept = [idx[ok]], [sc[ok]], int(ok.sum())
    if not keep_idx:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    return np.concatenate(keep_idx).astype(np.int64), np.concatenate(keep_score)


def _ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` block-aligned ranges covering ``range(n)`` (fewer for small n)."""
    blocks = -(-n // SEARCH_BLOCK)
    parts = max(1, min(parts, blocks))
    edges = [min(n, (blocks * i // parts) * SEARCH_BLOCK) for i in range(parts + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]


def _finish(
    q64: np.ndarray, rows: np.ndarray, found: list[tuple[np.ndarray, np.ndarray]], k: int,
    band: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Merge the ranges' candidates, re-score the possible top ``k`` in float64, rank."""
    idx = np.concatenate([f[0] for f in found])
    sc = np.concatenate([f[1] for f in found])
    if len(sc) > k:
        threshold = float(np.partition(sc, len(sc) - k)[len(sc) - k])
        ok = sc >= threshold - band
        idx = idx[ok]
    idx = np.sort(idx)
    exact = take_rows(rows, idx, np.float64) @ q64
    order = np.lexsort((idx, -exact))[:k]  # best first, equal cosines by row index
    return idx[order], exact[order]


def top_k(
    query: Any, rows: np.ndarray, k: int = 10, *,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows most similar to ``query``: ``(indices, cosines)``, best first.

    Parameters
    ----------
    query : array-like (D,)
        Normalised here (any positive length).
    rows : ndarray (N, D)
        Unit rows (float32, float16 or float64; memory-mapped rows are read block by
        block and their pages released).
    k : int, default 10
        At most ``N`` are returned.
    should_stop : callable, optional
        Checked between blocks; True stops with
        :class:`amumo.analysis._progress.Cancelled` (a newer query superseded this one).

    Returns
    -------
    indices : ndarray of int64 (k,)
    cosines : ndarray of float64 (k,)
        Exactly the top ``k`` of the float64 products, ties by index (module description).
    """
    found = search_rows(query, {"rows": rows}, k, should_stop=should_stop)
    return found["rows"]


def search_rows(
    query: Any, arrays: dict[str, np.ndarray], k: int = 10, *,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """:func:`top_k` of one query in several arrays of rows (``{name: rows}``), the ranges
    of large arrays searched in threads. Returns ``{name: (indices, cosines)}``."""
    if not arrays:
        raise ValueError("nothing to search: pass at least one array of rows.")
    dims = {name: np.shape(rows) for name, rows in arrays.items()}
    bad = {name: shape for name, shape in dims.items() if len(shape) != 2}
    if bad:
        raise ValueError(f"rows must be 2-D (N, D); got shapes {bad}.")
    dim = next(iter(dims.values()))[1]
    if any(shape[1] != dim for shape in dims.values()):
        raise ValueError(f"the arrays have different dimensions {dims}.")
    q64 = check_query(query, dim)
    q32 = q64.astype(np.float32)
    if isinstance(k, bool) or int(k) != k or int(k) < 1:
        raise ValueError(f"k={k!r} must be a positive integer.")
    k = int(k)
    # float32 products of unit rows differ from the float64 ones by at most `margin`; a row
    # outside the top k by more than twice that in float32 is outside it in float64 too.
    band = 2.0 * _margin(np.float32, dim) + 2.0**-22
    total = sum(shape[0] for shape in dims.values())
    parts = PARTS if total >= PARALLEL_ROWS else 1
    jobs = [
        (name, lo, hi)
        for name, rows in arrays.items()
        for lo, hi in _ranges(len(rows), parts)
    ]
    found = map_in_threads(
        lambda job: _collect(q32, arrays[job[0]], job[1], job[2], min(k, job[2] - job[1]),
                             band, should_stop),
        jobs, parallel=parts > 1, name="amumo-search",
    )
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, rows in arrays.items():
        mine = [f for job, f in zip(jobs, found, strict=True) if job[0] == name]
        if not mine:  # no rows at all
            out[name] = (np.empty(0, dtype=np.int64), np.empty(0))
            continue
        out[name] = _finish(q64, rows, mine, min(k, len(rows)), band)
    return out


def search(
    emb: Embeddings, query: Any, k: int = 10, modalities: Sequence[str] | None = None, *,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The top ``k`` pairs of every modality (or of ``modalities``) for one query row.

    Parameters
    ----------
    emb : Embeddings
    query : array-like (D,)
        A row in the embeddings' space (an encoded text or image, or a stored row).
    k : int, default 10
    modalities : sequence of str, optional
        Default every modality of ``emb``.

    Returns
    -------
    dict of str to (indices, cosines)
        Pair indices (rows of ``emb``) and float64 cosines, best first (:func:`top_k`).

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> hits = search(emb, emb["image"][5], k=2)
    >>> int(hits["image"][0][0]), sorted(hits)
    (5, ['image', 'text'])
    """
    names = tuple(emb.modalities) if modalities is None else tuple(modalities)
    for name in names:
        emb.check_modality(name, "modalities")
    return search_rows(query, {m: emb[m] for m in names}, k, should_stop=should_stop)
