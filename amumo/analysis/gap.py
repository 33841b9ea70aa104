"""The modality gap: its vector, its size, and shifting embeddings along it.

Liang et al., "Mind the Gap: Understanding the Modality Gap in Multi-modal
Contrastive Representation Learning", NeurIPS 2022, define the gap as the
difference of the modality centroids, ``Δ = mean(x_i) − mean(y_i)``, and study
what happens when every embedding is moved along it and re-normalised:
``x_i' = normalise(x_i − λ Δ / 2)``, ``y_i' = normalise(y_i + λ Δ / 2)``.
``λ = 1`` closes the gap before re-normalisation; ``λ < 0`` widens it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from amumo._util import map_in_threads
from amumo.analysis._checks import check_embeddings, check_finite, check_pairs
from amumo.analysis.row_map import RowMap
from amumo.embeddings import _lazy, _rows
from amumo.embeddings._lazy import LazyRows, Step, is_lazy, shift_block
from amumo.embeddings._rows import (
    empty_rows,
    release_rows,
    row_blocks,
    take_rows,
    unit_rows_or_fail,
)
from amumo.embeddings.container import Embeddings

__all__ = ["gap_vector", "gap_distance", "shift", "close_gap", "shift_arrays"]

_T = TypeVar("_T")
#: Below this many rows per modality the modalities are moved one after the other.
PARALLEL_ROWS = 50_000


#: Rows moved at a time by :func:`_moved` (float32: 1 MiB at D = 512, fits a core's L2);
#: the pages of a memory-mapped source are released every ``_rows.ROW_BLOCK`` rows.
MOVE_BLOCK = 512


def _centroid(rows: np.ndarray) -> np.ndarray:
    """Float64 mean of ``rows`` in blocks (memory-mapped pages released on the way, so a
    million pairs on disk do not stay resident after the gap vector is known)."""
    total = np.zeros(rows.shape[1])
    for block in row_blocks(len(rows), _rows.ROW_BLOCK):
        total += rows[block].sum(axis=0, dtype=np.float64)
        release_rows(rows, block)
    return total / max(1, len(rows))


def _moved_centroid(rows: Any) -> np.ndarray:
    """Float64 mean of rows computed when read, summed in :data:`MOVE_BLOCK` blocks as
    :func:`_moved` sums the rows it stores, so lazy and eager close_gap take the same
    steps to the last bit."""
    n = len(rows)
    total = np.zeros(rows.shape[1])
    released = 0
    for start in range(0, n, MOVE_BLOCK):
        stop = min(n, start + MOVE_BLOCK)
        total += rows[start:stop].sum(axis=0, dtype=np.float64)
        if stop - released >= _rows.ROW_BLOCK or stop == n:
            release_rows(rows, slice(released, stop))
            released = stop
    return total / max(1, n)


def _centroid_gap(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _centroid(x) - _centroid(y)


def _where(lam: float | None) -> str:
    return f"shifting by lam={lam:g}" if lam is not None else "the shift along the gap"


def _zero_rows(lam: float | None) -> Callable[[int, int], str]:
    where = _where(lam)
    return lambda count, first: (
        f"{where} moves {count} row(s) (first: {first}) "
        "exactly onto the origin, where they have no direction (e.g. a single pair "
        "whose items are antipodal: its gap cannot be closed by a shift). Remove those "
        "pairs or use another lam."
    )


def _unit(rows: np.ndarray, lam: float | None = None, start: int = 0) -> np.ndarray:
    return unit_rows_or_fail(rows, start, _zero_rows(lam))


def lazy_result(emb: Embeddings, names: Sequence[str], lazy: bool | None) -> bool:
    """Whether the moved rows of ``names`` are kept as rows computed on read
    (:class:`~amumo.embeddings._lazy.LazyRows`): ``lazy`` if given, else when their float32
    copy would exceed :data:`amumo.embeddings._lazy.LAZY_BYTES` (5 GiB), or when the rows
    are already computed on read."""
    if lazy is not None:
        if not isinstance(lazy, bool):
            raise TypeError(f"lazy={lazy!r} must be True, False or None (by size).")
        return lazy
    if any(is_lazy(emb[m]) for m in names):
        return True
    return len(emb) * emb.dim * 4 * len(names) > _lazy.LAZY_BYTES


def _moved(
    rows: np.ndarray, offset: np.ndarray, scale: float = 1.0, lam: float | None = None,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``unit(rows / scale + offset)`` as float32, one block of rows at a time.

    Returns the new rows and their float64 column sums. Memory: the float32
    result (``out`` may be ``rows`` itself, updated in place) plus one small block;
    never a float64 copy of the whole array. Each block of :data:`MOVE_BLOCK` rows
    (1 MiB at D = 512) is written straight into ``out``, normalised there and summed
    while it is still in the core's cache: one read of the source and one write of the
    result per pass (the pass is bound by memory bandwidth). The arithmetic is that of
    :func:`amumo.embeddings._lazy.shift_block` (what LazyRows applies when rows are read),
    step for step, so both give the same float32 rows.
    """
    n, d = rows.shape
    if out is None:
        out = empty_rows(n, d)
    total = np.zeros(d)
    fast = scale == 1.0  # float32 arithmetic (the stored precision); float64 for huge λ
    offset32 = np.asarray(offset, dtype=np.float32)
    norms = np.empty(MOVE_BLOCK, dtype=np.float32)
    released = 0
    for start in range(0, n, MOVE_BLOCK):
        stop = min(n, start + MOVE_BLOCK)
        block = out[start:stop]
        if fast:
            np.add(rows[start:stop], offset32, out=block)
            sq = np.einsum("ij,ij->i", block, block, out=norms[: stop - start])
            if np.all(sq > 1e-30) and np.all(np.isfinite(sq)):
                np.sqrt(sq, out=sq)
                block /= sq[:, None]
            else:  # rows moved onto (or next to) the origin: the careful float64 path
                block[...] = _unit(block.astype(np.float64), lam, start)
        else:
            moved = np.asarray(rows[start:stop], dtype=np.float64)
            moved /= scale
            moved += offset
            block[...] = _unit(moved, lam, start)
        total += block.sum(axis=0, dtype=np.float64)
        if out is not rows and (stop - released >= _rows.ROW_BLOCK or stop == n):
            release_rows(rows, slice(released, stop))  # memory-mapped source: RSS ~ BLOCK rows
            released = stop
    return out, total


def _per_modality(func: Callable[..., _T], *arg_lists: Sequence[Any]) -> list[_T]:
    """``[func(*args) for args in zip(*arg_lists)]``, one thread per modality from
    :data:`PARALLEL_ROWS` rows (the first argument holds the rows). The blocked passes
    over different modalities are independent and numpy releases the GIL in them, so on
    two cores the modalities of a million pairs move in about half the wall time.
    """
    jobs = list(zip(*arg_lists, strict=True))
    rows = len(jobs[0][0]) if jobs else 0
    return map_in_threads(lambda args: func(*args), jobs, parallel=rows >= PARALLEL_ROWS,
                          name="amumo-gap")


def gap_vector(emb: Embeddings, a: str | None = None, b: str | None = None) -> np.ndarray:
    """The gap vector ``mean(emb[a]) − mean(emb[b])`` in float64.

    Parameters
    ----------
    emb : Embeddings
    a, b : str, optional
        Modalities; default the first two (``"image"``, ``"text"``).

    Returns
    -------
    ndarray of shape (D,)

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> am.gap_vector(emb).shape
    (512,)

    Empty embeddings (N = 0) raise ``ValueError``: there is no centroid.
    """
    emb = check_pairs(emb)
    a, b = emb.pair_modalities(a, b)
    return _centroid_gap(emb[a], emb[b])


def gap_distance(emb: Embeddings, a: str | None = None, b: str | None = None) -> float:
    """The modality gap ``‖mean(emb[a]) − mean(emb[b])‖₂`` (Liang et al. 2022).

    About 0.82 for CLIP on MSCOCO in the paper; 0.8514 on the shipped
    ``clip_coco500`` pairs. 0 when the centroids coincide; at most 2.
    ``ValueError`` for empty embeddings (N = 0), like every metric.

    Examples
    --------
    >>> import amumo as am
    >>> round(am.gap_distance(am.datasets.clip_coco500()), 4)
    0.8514
    """
    return float(np.linalg.norm(gap_vector(emb, a, b)))


def shift_arrays(
    x: np.ndarray, y: np.ndarray, lam: float, gap: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Move ``x`` by ``−λΔ/2`` and ``y`` by ``+λΔ/2`` and re-normalise (float64).

    ``gap`` defaults to the centroid difference of ``x`` and ``y``. This is the
    array-level form used by :func:`shift` and by the zero-shot experiments.
    """
    delta = _centroid_gap(x, y) if gap is None else np.asarray(gap, dtype=np.float64)
    # Normalisation ignores a positive factor: shift x/s ∓ (λ/s)Δ/2 with s = max(1, |λ|), so
    # huge λ (1e300) neither overflows nor loses the limit direction ∓Δ/|Δ|.
    s = max(1.0, abs(float(lam)))
    step = (float(lam) / s / 2.0) * delta
    x_new = _unit(np.asarray(x, dtype=np.float64) / s - step, lam)
    y_new = _unit(np.asarray(y, dtype=np.float64) / s + step, lam)
    return x_new, y_new


def shift(
    emb: Embeddings, lam: float, a: str | None = None, b: str | None = None, *,
    row_map: RowMap | None = None, lazy: bool | None = None,
    centroids: Mapping[str, np.ndarray] | None = None,
) -> Embeddings:
    """Shift modalities ``a`` and ``b`` toward each other along the gap by ``λ``.

    Every row of ``a`` moves by ``−λΔ/2`` and every row of ``b`` by ``+λΔ/2``
    (``Δ`` = :func:`gap_vector`), then rows are re-normalised. ``λ = 0`` returns
    the same embeddings, ``λ = 1`` nearly closes the gap, ``λ < 0`` widens it.
    Other modalities are left unchanged. The input is not modified.

    Parameters
    ----------
    emb : Embeddings
    lam : float
        Shift size as a fraction of the gap.
    a, b : str, optional
        The two modalities (default the first two).
    row_map : RowMap, optional
        Receives the step (:mod:`amumo.analysis.row_map`), so that other rows (a typed
        query) can be moved the same way.
    lazy : bool, optional
        Keep the moved rows as rows computed when read
        (:class:`~amumo.embeddings._lazy.LazyRows`: the same float32 values, no copy)
        instead of a float32 copy. Default: when that copy would exceed 5 GiB
        (:data:`amumo.embeddings._lazy.LAZY_BYTES`), e.g. ten million pairs.
    centroids : dict of str to ndarray, optional
        The exact centroids of ``a`` and ``b`` when already known (saves a pass).

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> round(am.gap_distance(am.shift(emb, 0.5)), 3) < round(am.gap_distance(emb), 3)
    True
    """
    emb = check_embeddings(emb)
    lam = check_finite(lam, "lam")
    a, b = emb.pair_modalities(a, b)
    if lam == 0:
        return emb
    # As shift_arrays, but in blocks of rows straight into float32 (no float64 copies).
    s = max(1.0, abs(float(lam)))
    if centroids is not None:
        delta = np.asarray(centroids[a], np.float64) - np.asarray(centroids[b], np.float64)
    else:
        delta = _centroid_gap(emb[a], emb[b])
    step = (float(lam) / s / 2.0) * delta
    if row_map is not None:
        row_map.add({a: (s, -step), b: (s, step)})
    arrays = {m: emb[m] for m in emb.modalities}
    if lazy_result(emb, (a, b), lazy):
        arrays[a], arrays[b] = (LazyRows(emb[m], [Step("shift", offset, s, _where(lam))])
                                for m, offset in ((a, -step), (b, step)))
    else:
        moved = _per_modality(lambda rows, offset: _moved(rows, offset, s, lam)[0],
                              [emb[a], emb[b]], [-step, step])
        arrays[a], arrays[b] = moved
    history = list(emb.provenance.get("gap_shifts", [])) + [{"lam": lam, "a": a, "b": b}]
    return emb._derive(arrays, normalized=True, gap_shifts=history)


def close_gap(
    emb: Embeddings,
    a: str | None = None,
    b: str | None = None,
    *,
    modalities: Sequence[str] | None = None,
    tol: float = 1e-3,
    max_iter: int = 100,
    row_map: RowMap | None = None,
    lazy: bool | None = None,
    progress: Callable[[float], object] | None = None,
    centroids: Mapping[str, np.ndarray] | None = None,
    sample: int | None = None,
    seed: int = 0,
    verify: bool = True,
) -> Embeddings:
    """Move modality centroids to their common mean until every gap is below ``tol``.

    For two modalities this is the shift along the gap with ``λ = 1``
    (Liang et al. 2022): each modality moves by half the gap toward the other.
    For ``M`` modalities every modality ``m`` moves by ``c̄ − c_m``, where
    ``c_m`` is its centroid and ``c̄ = (1/M) Σ c_m`` the mean of the centroids
    (for ``M = 2`` the same step). One step closes the gaps before
    re-normalisation; re-normalising opens a small residual, so the step is
    repeated until the largest pairwise gap distance is below ``tol``.
    The iterations and the largest gap before and after are stored in
    ``result.provenance["close_gap"]``.

    Parameters
    ----------
    emb : Embeddings
    a, b : str, optional
        Close the gap of these two modalities only (others are unchanged).
    modalities : sequence of str, optional
        Close the gaps among these modalities. Default: ``(a, b)`` when ``a`` or
        ``b`` is given, else **all** modalities of ``emb``.
    tol : float, default 1e-3
        Target for the largest remaining pairwise gap distance.
    max_iter : int, default 100
    row_map : RowMap, optional
        Receives every step (:mod:`amumo.analysis.row_map`), so that other rows (a
        typed query) can be moved the same way.
    lazy : bool, optional
        Keep the moved rows as rows computed when read (the same float32 values, no
        copy; each step is then one pass that sums the rows it would have written).
        Default: when their float32 copy would exceed 5 GiB
        (:data:`amumo.embeddings._lazy.LAZY_BYTES`).
    progress : callable, optional
        ``progress(fraction)`` after each step (each step is one pass over the rows).
    centroids : dict of str to ndarray, optional
        The exact centroids of the moved modalities when already known (e.g.
        ``GapStats.mean(m)`` of an earlier pass): saves the first pass.
    sample : int, optional
        Rows computed when read only (``lazy``): estimate the steps on a seeded
        sample of this many pairs (runs of consecutive pairs,
        :func:`amumo.analysis.streaming.spread_sample`) instead of one pass over all
        rows per step. Each step's centroid is the exact centroid before it plus the
        sample's mean change of the rows (a control variate: the change varies far
        less than the rows, so 100,000 pairs estimate it to ~1e-4), then one exact
        pass checks the remaining gap (``verify``) and further exact steps follow if it
        is not below ``tol``. Ten million pairs: one pass instead of three or more.
    seed : int, default 0
        Seed of ``sample``.
    verify : bool, default True
        With ``sample``: check the remaining gap with one exact pass. ``False`` returns
        at once with an estimated ``gap_after`` (``provenance["close_gap"]["estimated"]``
        is True) for a caller that reads every row anyway and checks it there (the
        Explorer's streamed views).

    Raises
    ------
    RuntimeError
        If the gaps do not fall below ``tol`` within ``max_iter`` steps.

    Examples
    --------
    >>> import amumo as am
    >>> closed = am.close_gap(am.datasets.clip_coco500())
    >>> am.gap_distance(closed) < 1e-3
    True
    >>> closed.provenance["close_gap"]["iterations"] >= 1
    True
    """
    emb = check_embeddings(emb)
    names = _closing_modalities(emb, a, b, modalities)
    tol = check_finite(tol, "tol")
    if tol <= 0:
        raise ValueError(f"tol={tol} must be positive (e.g. 1e-3).")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter={max_iter} must be at least 1.")
    # Blocked float32 (issue 11): each step reads and rewrites the rows block by block
    # (in place after the first step) and sums the new rows on the way, so memory is
    # one float32 copy per moved modality, never a float64 copy of the whole array.
    # The centroids are those of the float32 rows that are finally stored.
    rows = [emb[m] for m in names]
    n = len(emb)
    lazy = lazy_result(emb, names, lazy)
    if sample is not None and not lazy:
        raise ValueError("sample= estimates the steps of rows computed when read; pass "
                         "lazy=True (or leave lazy=None for very large embeddings).")
    if centroids is not None:
        missing = [m for m in names if m not in centroids]
        if missing:
            raise ValueError(f"centroids lacks {missing}; give one per moved modality.")
        centroids = [np.asarray(centroids[m], dtype=np.float64) for m in names]
        if any(c.shape != (emb.dim,) for c in centroids):
            raise ValueError(f"centroids must be vectors of length D = {emb.dim}.")
    else:
        centroids = _per_modality(_centroid, rows)
    before = _largest_gap(centroids)
    remaining = before
    iterations = 0
    target = tol * 0.5  # aim a little below tol to leave room for rounding
    estimated = False
    if sample is not None and remaining >= target:
        rows, centroids, iterations = _sampled_steps(emb, names, rows, centroids, target,
                                                     int(max_iter), int(sample), seed, row_map)
        remaining = _largest_gap(centroids)
        estimated = True
        if verify:
            centroids = _per_modality(_centroid, rows)
            remaining = _largest_gap(centroids)
            estimated = False
    while remaining >= target and iterations < int(max_iter) and not estimated:
        common = np.mean(centroids, axis=0)
        if row_map is not None:
            row_map.add({m: (1.0, common - c) for m, c in zip(names, centroids, strict=True)})
        if lazy:  # one more step on read; this pass only sums what it would have stored
            rows = [LazyRows(r, [Step("shift", common - c)]) for r, c in zip(rows, centroids,
                                                                            strict=True)]
            centroids = _per_modality(_moved_centroid, rows)
        else:
            # After step 1 the rows are our own float32 buffers: moved in place.
            targets = [None] * len(rows) if iterations == 0 else rows
            results = _per_modality(
                lambda r, offset, out: _moved(r, offset, out=out),
                rows, [common - c for c in centroids], targets,
            )
            rows = [new for new, _ in results]
            centroids = [total / n for _, total in results]
        iterations += 1
        remaining = _largest_gap(centroids)
        if progress is not None:
            progress(min(1.0, iterations / max(1.0, iterations + np.log10(
                max(remaining, target) / target))))
    if remaining >= tol:
        raise RuntimeError(
            f"close_gap stopped after max_iter={max_iter} shifts with a remaining gap of "
            f"{remaining:.3g} ≥ tol={tol}; raise max_iter or tol."
        )
    arrays: dict[str, Any] = {m: emb[m] for m in emb.modalities}
    arrays.update(zip(names, rows, strict=True))
    info: dict[str, Any] = {
        "modalities": list(names),
        "iterations": iterations,
        "gap_before": before,
        "gap_after": remaining,
        "tol": tol,
    }
    if sample is not None:
        info["sample"] = int(sample)
        info["estimated"] = estimated
    if len(names) == 2:
        info["a"], info["b"] = names
    return emb._derive(arrays, normalized=True, close_gap=info)


def _sampled_steps(
    emb: Embeddings, names: Sequence[str], rows: list[Any], centroids: list[np.ndarray],
    target: float, max_iter: int, size: int, seed: int, row_map: RowMap | None = None,
) -> tuple[list[Any], list[np.ndarray], int]:
    """close_gap's steps estimated on a sample (see ``sample=``): the rows with the steps
    appended (computed when read), the estimated centroids and the number of steps."""
    from amumo.analysis.streaming import spread_sample

    index = spread_sample(len(emb), size, seed)
    current = [take_rows(r, index, np.float32) for r in rows]
    estimate = [np.array(c, dtype=np.float64) for c in centroids]
    steps = 0
    while _largest_gap(estimate) >= target and steps < max_iter:
        common = np.mean(estimate, axis=0)
        if row_map is not None:
            row_map.add({m: (1.0, common - c) for m, c in zip(names, estimate, strict=True)})
        for k in range(len(rows)):
            offset = common - estimate[k]
            moved = shift_block(current[k], offset)
            # exact centroid before the step + the sample's mean change (control variate)
            estimate[k] = estimate[k] + (moved.astype(np.float64) - current[k]).mean(axis=0)
            current[k] = moved
            rows[k] = LazyRows(rows[k], [Step("shift", offset)])
        steps += 1
    return rows, estimate, steps


def _closing_modalities(
    emb: Embeddings, a: str | None, b: str | None, modalities: Sequence[str] | None
) -> tuple[str, ...]:
    """The modalities :func:`close_gap` moves (validated, at least two, no repeats)."""
    if modalities is not None:
        if a is not None or b is not None:
            raise ValueError("pass either a and b or modalities=[...], not both.")
        if isinstance(modalities, str):
            raise TypeError(
                f"modalities={modalities!r} is a string; pass a list such as "
                "['image', 'text', 'audio']."
            )
        names = tuple(emb.check_modality(m, "modalities") for m in modalities)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(
                f"modalities={list(names)} must name at least two different modalities."
            )
        return names
    if a is None and b is None:
        return tuple(emb.modalities)
    return emb.pair_modalities(a, b)


def _largest_gap(centroids: list[np.ndarray]) -> float:
    """Largest pairwise centroid distance ``max_{p<q} ‖c_p − c_q‖`` (float64)."""
    return max(
        float(np.linalg.norm(centroids[p] - centroids[q]))
        for p in range(len(centroids))
        for q in range(p + 1, len(centroids))
    )
