"""Measures of the modality gap used by current research (2023–2025).

Besides the centroid distance of Liang et al. (2022, :func:`amumo.gap_distance`),
papers now report:

- the *relative modality gap* (RMG) of Schrodi, Hoffmann, Argus, Fischer & Brox,
  "Two Effects, One Trigger: On the Modality Gap, Object Bias, and Information
  Imbalance in Contrastive Vision-Language Models", ICLR 2025 — the matched-pair
  distance relative to the spread inside each modality;
- the mean L2 distance of matched pairs (``l2i``) and the cosine of the two
  modality centroids (``centroid_cosine``);
- which embedding dimensions carry the gap (Schrodi et al. 2025 find a few
  dimensions with most of ``‖Δ‖²``), and what happens when they are removed;
- the Fréchet (2-Wasserstein) distance between Gaussian fits of the two
  modalities, the measure behind FID (Heusel et al., NeurIPS 2017).

Every measure here except :func:`frechet_distance` (O(N·D²)) costs O(N·D) and
reads the rows in blocks, so it works on memory-mapped embeddings of millions
of pairs without copying them in float64. RMG, L2I, the centroid cosine and
:func:`gap_summary` are views over the sums of :class:`amumo.GapStats`
(:mod:`amumo.analysis.stats`, where undefined values are specified once).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from amumo.analysis._checks import check_embeddings, check_pairs
from amumo.analysis.retrieval import recall_at_k
from amumo.analysis.stats import GapStats, rmg_from_means
from amumo.embeddings import _rows
from amumo.embeddings._rows import release_rows, row_blocks, unit_rows_or_fail
from amumo.embeddings.container import Embeddings

__all__ = [
    "rmg",
    "rmg_from_means",
    "l2i",
    "centroid_cosine",
    "gap_dimensions",
    "ablate_gap_dimensions",
    "gap_ablation_curve",
    "frechet_distance",
    "gap_summary",
]



def _rows64(array: np.ndarray, rows: slice) -> np.ndarray:
    block = np.array(array[rows], dtype=np.float64)
    release_rows(array, rows)  # memory-mapped input: keep RSS at one block (issue 11)
    return block


def _sums(emb: Embeddings, a: str, b: str) -> GapStats:
    """The sums of modalities ``a``, ``b`` of non-empty ``emb`` (one blocked pass)."""
    return GapStats().update(check_pairs(emb), (a, b))


def rmg(emb: Embeddings, a: str | None = None, b: str | None = None) -> float:
    """Relative modality gap (Schrodi et al., ICLR 2025), as their released code computes it.

    With the cosine dissimilarity ``d(c) = (1 − c) / 2`` (0 … 1),

    - ``m = max(1e-3, d(mean_i cos(a_i, b_i)))`` — matched pairs,
    - ``d_a = d(mean_{i≠j} cos(a_i, a_j))``, ``d_b`` likewise — within each modality,
    - ``RMG = m / (m + (d_a + d_b) / 2)``.

    RMG compares the distance between the modalities with the spread inside
    them, so unlike :func:`amumo.gap_distance` it does not shrink merely because
    both cones are narrow. 0.5 when pairs are as far apart as unrelated items
    of one modality, near 0 when pairs coincide. Invariant to rotations of the
    embedding space and to the order of the pairs. O(N·D), from the sums of
    :class:`amumo.GapStats`.

    Degenerate cases: NaN when neither modality has any spread (all rows of
    ``a`` one point and all rows of ``b`` one point; see
    :func:`~amumo.analysis.stats.rmg_from_means`); ``ValueError`` for fewer
    than 2 pairs (no distinct items to compare) and for empty embeddings.

    Parameters
    ----------
    emb : Embeddings
    a, b : str, optional
        The two modalities (default the first two).

    Returns
    -------
    float
        0.5915 on the shipped ``clip_coco500``, 0.7478 on its random-init version.

    References
    ----------
    S. Schrodi, D. T. Hoffmann, M. Argus, V. Fischer, T. Brox. "Two Effects, One
    Trigger: On the Modality Gap, Object Bias, and Information Imbalance in
    Contrastive Vision-Language Models". ICLR 2025, arXiv:2404.07983.

    Examples
    --------
    >>> import amumo as am
    >>> round(am.rmg(am.datasets.clip_coco500()), 4)
    0.5915
    >>> round(am.rmg(am.datasets.clip_coco500(random_init=True)), 4)
    0.7478
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    return _sums(emb, a, b).rmg(a, b)


def l2i(emb: Embeddings, a: str | None = None, b: str | None = None) -> float:
    """Mean L2 distance of matched pairs, ``(1/N) Σ_i ‖a_i − b_i‖₂`` (0 … 2).

    For unit rows ``‖a_i − b_i‖ = sqrt(2 − 2 cos(a_i, b_i))``. Reported as "L2I"
    next to RMG by Schrodi et al. (ICLR 2025). O(N·D), from the sums of
    :class:`amumo.GapStats`; ``ValueError`` for empty embeddings.

    Examples
    --------
    >>> import amumo as am
    >>> round(am.l2i(am.datasets.clip_coco500()), 4)
    1.1745
    >>> round(am.l2i(am.datasets.clip_coco500(random_init=True)), 4)
    1.3938
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    return _sums(emb, a, b).l2i(a, b)


def centroid_cosine(emb: Embeddings, a: str | None = None, b: str | None = None) -> float:
    """Cosine of the two modality centroids, ``cos(mean(a), mean(b))``.

    1 when the centroids point the same way (no gap in direction), 0 when
    orthogonal. NaN when a centroid is the zero vector (it has no direction),
    as in :func:`amumo.metrics` and :class:`amumo.GapStats`; ``ValueError`` for
    empty embeddings.

    Examples
    --------
    >>> import amumo as am
    >>> round(am.centroid_cosine(am.datasets.clip_coco500()), 4)
    0.3088
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    return _sums(emb, a, b).centroid_cosine(a, b)


def _delta(emb: Embeddings, a: str, b: str) -> np.ndarray:
    return _sums(emb, a, b).gap_vector(a, b)


def gap_dimensions(
    emb: Embeddings, a: str | None = None, b: str | None = None
) -> pd.DataFrame:
    """Embedding dimensions sorted by their share of the squared gap ``‖Δ‖²``.

    ``share_k = Δ_k² / ‖Δ‖²`` with ``Δ = mean(a) − mean(b)``; ``cumulative`` is
    the running sum (1 after all D rows). Schrodi et al. (ICLR 2025) show that
    in CLIP a handful of dimensions carry most of the gap. Note that shares
    depend on the basis (they are not rotation invariant).

    Returns
    -------
    DataFrame with columns ``dim`` (int), ``delta`` (Δ_k), ``share``, ``cumulative``;
    one row per dimension, largest share first.

    Raises
    ------
    ValueError
        When the centroids coincide (``Δ = 0``): there is no gap to split.

    Examples
    --------
    >>> import amumo as am
    >>> top = am.gap_dimensions(am.datasets.clip_coco500()).head(2)
    >>> top["dim"].tolist(), round(float(top["cumulative"].iloc[-1]), 3)
    ([442, 362], 0.686)
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    delta = _delta(emb, a, b)
    total = float(delta @ delta)
    if total == 0:
        raise ValueError(f"the centroids of {a!r} and {b!r} coincide (Δ = 0); no gap to split.")
    share = delta * delta / total
    order = np.argsort(-share, kind="stable")
    return pd.DataFrame({
        "dim": order.astype(int),
        "delta": delta[order],
        "share": share[order],
        "cumulative": np.cumsum(share[order]),
    })


def _check_k(k: object, dim: int) -> int:
    if isinstance(k, bool) or int(k) != k or not 0 <= int(k) < dim:  # type: ignore[call-overload]
        raise ValueError(f"k={k!r} must be an integer in 0..{dim - 1} (dimensions to remove).")
    return int(k)


def ablate_gap_dimensions(
    emb: Embeddings,
    k: int,
    a: str | None = None,
    b: str | None = None,
    *,
    dims: Sequence[int] | None = None,
) -> Embeddings:
    """Zero the ``k`` dimensions with the largest share of the gap and re-normalise rows.

    The dimensions are those of :func:`gap_dimensions` (ranked on ``a`` and
    ``b``) and are zeroed in every modality. ``k = 0`` returns ``emb``.
    The removed dimensions are stored in ``result.provenance["ablated_dims"]``.

    Parameters
    ----------
    emb : Embeddings
    k : int
        Number of dimensions to remove (0 … D − 1).
    a, b : str, optional
    dims : sequence of int, optional
        Remove exactly these dimensions instead (``k`` is then ignored).

    Raises
    ------
    ValueError
        If a row would become all zero (it lived only in the removed dimensions).

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> ablated = am.ablate_gap_dimensions(emb, 2)
    >>> ablated.provenance["ablated_dims"]
    [442, 362]
    >>> am.gap_distance(ablated) < am.gap_distance(emb)
    True
    """
    emb = check_embeddings(emb)
    if dims is None:
        k = _check_k(k, emb.dim)
        if k == 0:
            return emb
        chosen = gap_dimensions(emb, a, b)["dim"].to_numpy()[:k]
    else:
        chosen = np.asarray(list(dims), dtype=np.int64)
        if chosen.ndim != 1 or np.any((chosen < 0) | (chosen >= emb.dim)):
            raise ValueError(f"dims must be dimension indices in 0..{emb.dim - 1}.")
        if len(np.unique(chosen)) == emb.dim:
            raise ValueError("dims removes every dimension; keep at least one.")
    arrays = {}
    for name in emb.modalities:
        x = emb[name]
        out = np.empty(x.shape, dtype=np.float32)
        for rows in row_blocks(len(x), _rows.ROW_BLOCK):  # float32 unit rows, no float64 copy
            block = _rows64(x, rows)
            block[:, chosen] = 0.0
            out[rows] = unit_rows_or_fail(
                block, rows.start, lambda count, first, name=name: (
                    f"removing dims {chosen.tolist()[:10]} leaves {count} all-zero row(s) "
                    f"in {name!r} (e.g. pair {first}); remove fewer dimensions."
                ),
            )
        arrays[name] = out
    history = list(emb.provenance.get("ablated_dims", [])) + [int(d) for d in chosen]
    return emb._derive(arrays, normalized=True, ablated_dims=history)


def gap_ablation_curve(
    emb: Embeddings,
    ks: Sequence[int] = (0, 1, 2, 4, 8, 16, 32, 64),
    a: str | None = None,
    b: str | None = None,
) -> pd.DataFrame:
    """Gap, RMG and recall@1 after removing the top-k gap dimensions, for each k.

    Dimensions are ranked once on ``emb`` (:func:`gap_dimensions`), so row
    ``k`` removes the first ``k`` of that ranking. Recall is computed by
    :func:`amumo.recall_at_k` (both directions).

    Returns
    -------
    DataFrame with columns ``k``, ``share_removed``, ``gap_distance``, ``rmg``,
    ``l2i``, ``recall@1:<a>-><b>``, ``recall@1:<b>-><a>``.

    Examples
    --------
    >>> import amumo as am
    >>> curve = am.gap_ablation_curve(am.datasets.clip_coco500(), ks=[0, 2])
    >>> curve["gap_distance"].round(3).tolist()
    [0.851, 0.617]
    """
    from amumo.analysis.gap import gap_distance

    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    values = [_check_k(k, emb.dim) for k in ks]
    ranking = gap_dimensions(emb, a, b)
    order = ranking["dim"].to_numpy()
    cumulative = np.concatenate([[0.0], ranking["cumulative"].to_numpy()])
    rows = []
    for k in values:
        ablated = ablate_gap_dimensions(emb, 0, a, b, dims=order[:k]) if k else emb
        sums = _sums(ablated, a, b)
        rows.append({
            "k": k,
            "share_removed": float(cumulative[k]),
            "gap_distance": gap_distance(ablated, a, b),
            "rmg": sums.rmg(a, b),
            "l2i": sums.l2i(a, b),
            f"recall@1:{a}->{b}": recall_at_k(ablated, 1, a, b)[1],
            f"recall@1:{b}->{a}": recall_at_k(ablated, 1, b, a)[1],
        })
    return pd.DataFrame(rows)


def _mean_cov(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (N − 1) of the rows, block by block in float64."""
    n, d = x.shape
    if n < 2:
        raise ValueError("a covariance needs at least 2 pairs.")
    total = np.zeros(d)
    scatter = np.zeros((d, d))
    for rows in row_blocks(len(x), _rows.ROW_BLOCK):
        block = _rows64(x, rows)
        total += block.sum(axis=0)
        scatter += block.T @ block
    mean = total / n
    cov = (scatter - n * np.outer(mean, mean)) / (n - 1)
    return mean, (cov + cov.T) / 2.0


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(
    emb: Embeddings,
    a: str | None = None,
    b: str | None = None,
    *,
    squared: bool = True,
) -> float:
    """Fréchet (2-Wasserstein) distance between Gaussian fits of the two modalities.

    ``W₂² = ‖μ_a − μ_b‖² + tr(Σ_a) + tr(Σ_b) − 2 tr((Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2})``
    (Dowson & Landau 1982), with the unbiased covariances (divisor N − 1).
    The matrix square root is taken through symmetric eigendecompositions
    (``tr((Σ_a Σ_b)^{1/2})`` = sum of square roots of the eigenvalues of the
    PSD matrix ``Σ_a^{1/2} Σ_b Σ_a^{1/2}``), which stays real and stable where
    ``scipy.linalg.sqrtm(Σ_a Σ_b)`` can return complex noise. Like FID
    (Heusel et al. 2017) the squared value is returned by default.
    O(N·D² + D³); the pairing of rows plays no role.

    Parameters
    ----------
    emb : Embeddings
    a, b : str, optional
    squared : bool, default True
        Return ``W₂²`` (the FID convention); ``False`` returns ``W₂``.

    Examples
    --------
    >>> import amumo as am
    >>> round(am.frechet_distance(am.datasets.clip_coco500()), 4)
    1.1052
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    mu_a, cov_a = _mean_cov(emb[a])
    mu_b, cov_b = _mean_cov(emb[b])
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    cross = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum())
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)
    value = max(value, 0.0)
    return value if squared else float(np.sqrt(value))


def gap_summary(
    emb: Embeddings,
    a: str | None = None,
    b: str | None = None,
    *,
    recall: bool = True,
) -> dict[str, float]:
    """The gap in one dict: centroid distance, RMG, L2I, centroid cosine, paired cosine, R@1.

    Used for the before / after report of :func:`amumo.mitigate`. All entries
    are O(N·D), from one pass of :class:`amumo.GapStats` (NaN where undefined,
    as in :func:`amumo.metrics`), except recall (``recall=False`` skips it).

    Examples
    --------
    >>> import amumo as am
    >>> s = am.gap_summary(am.datasets.clip_coco500())
    >>> round(s["gap_distance"], 4), round(s["rmg"], 4), s["recall@1:image->text"]
    (0.8514, 0.5915, 0.552)
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    sums = _sums(emb, a, b).metrics(a, b)
    out = {key: sums[key] for key in
           ("gap_distance", "rmg", "l2i", "centroid_cosine", "paired_cosine")}
    if recall:
        out[f"recall@1:{a}->{b}"] = recall_at_k(emb, 1, a, b)[1]
        out[f"recall@1:{b}->{a}"] = recall_at_k(emb, 1, b, a)[1]
    return out
