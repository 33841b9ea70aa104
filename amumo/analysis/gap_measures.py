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
of pairs without copying them in float64.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from amumo.analysis._checks import check_embeddings
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

#: Rows per block when summing over a modality (float64 working set BLOCK × D × 8 bytes:
#: 16 MB at D = 512).
BLOCK = 4096
#: Lower bound of the matched-pair term of RMG, as in Schrodi et al.'s code.
RMG_EPS = 1e-3


def _rows64(array: np.ndarray, rows: slice) -> np.ndarray:
    block = np.array(array[rows], dtype=np.float64)
    release_rows(array, rows)  # memory-mapped input: keep RSS at one block (issue 11)
    return block


def _modality_sums(x: np.ndarray) -> tuple[np.ndarray, float]:
    """``(Σ_i x_i, Σ_i ‖x_i‖²)`` in float64, block by block."""
    total = np.zeros(x.shape[1])
    squares = 0.0
    for rows in row_blocks(len(x), BLOCK):
        block = _rows64(x, rows)
        total += block.sum(axis=0)
        squares += float(np.einsum("ij,ij->", block, block))
    return total, squares


def _mean_within_cosine(x: np.ndarray) -> float:
    """Mean cosine over distinct items ``i ≠ j`` of unit rows, from ``‖Σ x_i‖² = N + Σ_{i≠j}``."""
    n = len(x)
    if n < 2:
        raise ValueError("the within-modality cosine needs at least 2 pairs.")
    total, squares = _modality_sums(x)
    return float((total @ total - squares) / (n * (n - 1)))


def _mean_paired_cosine(x: np.ndarray, y: np.ndarray) -> float:
    acc = 0.0
    for rows in row_blocks(len(x), BLOCK):
        acc += float(np.einsum("ij,ij->", _rows64(x, rows), _rows64(y, rows)))
    return acc / len(x)


def rmg_from_means(paired_cosine: float, within_a: float, within_b: float) -> float:
    """RMG from the three mean cosines it is made of (used by mergeable statistics).

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

    Examples
    --------
    >>> round(rmg_from_means(1.0, 0.5, 0.5), 6)  # pairs coincide: only the 1e-3 floor is left
    0.003984
    >>> rmg_from_means(0.0, 0.0, 0.0)  # pairs as far apart as unrelated items
    0.5
    """
    m = max(RMG_EPS, (1.0 - float(paired_cosine)) / 2.0)
    d_a = (1.0 - float(within_a)) / 2.0
    d_b = (1.0 - float(within_b)) / 2.0
    return m / (m + (d_a + d_b) / 2.0)


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
    embedding space and to the order of the pairs. O(N·D).

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
    x, y = emb[a], emb[b]
    return rmg_from_means(_mean_paired_cosine(x, y), _mean_within_cosine(x), _mean_within_cosine(y))


def l2i(emb: Embeddings, a: str | None = None, b: str | None = None) -> float:
    """Mean L2 distance of matched pairs, ``(1/N) Σ_i ‖a_i − b_i‖₂`` (0 … 2).

    For unit rows ``‖a_i − b_i‖ = sqrt(2 − 2 cos(a_i, b_i))``. Reported as "L2I"
    next to RMG by Schrodi et al. (ICLR 2025). O(N·D).

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
    x, y = emb[a], emb[b]
    acc = 0.0
    for rows in row_blocks(len(x), BLOCK):
        diff = _rows64(x, rows) - _rows64(y, rows)
        acc += float(np.sqrt(np.einsum("ij,ij->i", diff, diff)).sum())
    return acc / len(x)


def centroid_cosine(emb: Embeddings, a: str | None = None, b: str | None = None) -> float:
    """Cosine of the two modality centroids, ``cos(mean(a), mean(b))``.

    1 when the centroids point the same way (no gap in direction), 0 when
    orthogonal. Undefined (ValueError) when a centroid is the zero vector.

    Examples
    --------
    >>> import amumo as am
    >>> round(am.centroid_cosine(am.datasets.clip_coco500()), 4)
    0.3088
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    mu_a = _modality_sums(emb[a])[0]
    mu_b = _modality_sums(emb[b])[0]
    norm = float(np.linalg.norm(mu_a) * np.linalg.norm(mu_b))
    if norm == 0:
        raise ValueError(
            f"a centroid of {a!r} or {b!r} is zero, so its direction (and the centroid "
            "cosine) is undefined."
        )
    return float(mu_a @ mu_b / norm)


def _delta(emb: Embeddings, a: str, b: str) -> np.ndarray:
    n = len(emb)
    return (_modality_sums(emb[a])[0] - _modality_sums(emb[b])[0]) / n


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
        for rows in row_blocks(len(x), BLOCK):  # float32 unit rows, no whole float64 copy
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
    from amumo.analysis.metrics import recall_at_k

    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    values = [_check_k(k, emb.dim) for k in ks]
    ranking = gap_dimensions(emb, a, b)
    order = ranking["dim"].to_numpy()
    cumulative = np.concatenate([[0.0], ranking["cumulative"].to_numpy()])
    rows = []
    for k in values:
        ablated = ablate_gap_dimensions(emb, 0, a, b, dims=order[:k]) if k else emb
        rows.append({
            "k": k,
            "share_removed": float(cumulative[k]),
            "gap_distance": gap_distance(ablated, a, b),
            "rmg": rmg(ablated, a, b),
            "l2i": l2i(ablated, a, b),
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
    for rows in row_blocks(len(x), BLOCK):
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
    are O(N·D) except recall (``recall=False`` skips it).

    Examples
    --------
    >>> import amumo as am
    >>> s = am.gap_summary(am.datasets.clip_coco500())
    >>> round(s["gap_distance"], 4), round(s["rmg"], 4), s["recall@1:image->text"]
    (0.8514, 0.5915, 0.552)
    """
    from amumo.analysis.metrics import recall_at_k

    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    x, y = emb[a], emb[b]
    paired = _mean_paired_cosine(x, y)
    delta = _delta(emb, a, b)
    out = {
        "gap_distance": float(np.linalg.norm(delta)),
        "rmg": rmg_from_means(paired, _mean_within_cosine(x), _mean_within_cosine(y)),
        "l2i": l2i(emb, a, b),
        "centroid_cosine": centroid_cosine(emb, a, b),
        "paired_cosine": paired,
    }
    if recall:
        out[f"recall@1:{a}->{b}"] = recall_at_k(emb, 1, a, b)[1]
        out[f"recall@1:{b}->{a}"] = recall_at_k(emb, 1, b, a)[1]
    return out
