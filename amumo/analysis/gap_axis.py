"""The gap-axis projection: one axis along the gap, the other the main spread across it.

PCA's first components follow the largest variance, which is not always the
gap: in a small model trained on synthetic shapes the gap lies along the fifth
principal component, and a PCA scatter shows two fully mixed clouds although
a linear classifier separates the modalities perfectly. The gap-axis
projection makes the gap visible whatever the data:

- ``x = (r − o) · u`` with ``u = Δ / ‖Δ‖``, ``Δ = mean(a) − mean(b)`` and the
  origin ``o = (mean(a) + mean(b)) / 2`` (so the centroids sit at ``±‖Δ‖/2``);
- ``y`` (and further components) = the top principal directions of all rows
  after removing their component along ``u``, so every axis is orthogonal to ``u``.

Moving every row of ``a`` by ``−tΔ`` and of ``b`` by ``+tΔ`` (the gap shift
before re-normalisation) changes ``x`` only; re-normalising then scales each
point toward the origin of the sphere by its new norm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from amumo.analysis._checks import check_embeddings
from amumo.analysis.stats import GapStats
from amumo.embeddings import _rows
from amumo.embeddings._rows import release_rows, row_blocks, take_rows
from amumo.embeddings.container import Embeddings

__all__ = ["gap_axes", "gap_projection", "pca_gap_share", "pca_hides_gap", "gap_axis_label"]

#: pca_gap_share fits its PCA on at most this many pairs (evenly spaced).
SHARE_MAX_PAIRS = 5_000
#: Above this many pairs pca_gap_share reads a spread sample (runs of consecutive pairs,
#: :func:`amumo.analysis.streaming.spread_sample`) instead of evenly spaced pairs.
SHARE_SPREAD_ABOVE = 2_000_000
#: The directions across the gap (y, …) are fitted on at most this many evenly spaced
#: pairs; the gap axis itself always uses the exact centroids.
FIT_MAX_PAIRS = 50_000


def gap_axis_label(component: int) -> str:
    """Axis title of a gap-axis component: 0 → the gap axis, j ≥ 1 → ``PC j ⊥ Δ``.

    Examples
    --------
    >>> gap_axis_label(0), gap_axis_label(1)
    ('gap axis Δ/‖Δ‖', 'PC 1 ⊥ Δ')
    """
    return "gap axis Δ/‖Δ‖" if component == 0 else f"PC {component} ⊥ Δ"


def _names(emb: Embeddings, modalities: Sequence[str] | None) -> tuple[str, ...]:
    names = emb.modalities if modalities is None else tuple(modalities)
    for name in names:
        emb.check_modality(name, "modalities")
    return names


def _scatter(emb: Embeddings, names: Sequence[str], u: np.ndarray | None) -> np.ndarray:
    """Covariance of the stacked rows (with ``u`` projected out), in float64, by blocks.

    Above :data:`FIT_MAX_PAIRS` pairs it is estimated from that many evenly spaced pairs."""
    d = emb.dim
    total = np.zeros(d)
    outer = np.zeros((d, d))
    count = 0
    n = len(emb)
    index = np.linspace(0, n - 1, FIT_MAX_PAIRS).astype(np.int64) if n > FIT_MAX_PAIRS else None
    for name in names:
        rows_all = emb[name]
        size = n if index is None else len(index)
        for start in range(0, size, _rows.ROW_BLOCK):
            stop = start + _rows.ROW_BLOCK
            part = slice(start, stop) if index is None else index[start:stop]
            rows = (np.array(rows_all[part], dtype=np.float64) if index is None
                    else take_rows(rows_all, part, np.float64))  # no read-ahead of the map
            if index is None:
                release_rows(rows_all, part)
            if u is not None:
                rows = rows - np.outer(rows @ u, u)
            total += rows.sum(axis=0)
            outer += rows.T @ rows
            count += len(rows)
    mean = total / count
    cov = outer / count - np.outer(mean, mean)
    return (cov + cov.T) / 2.0


def _top_directions(cov: np.ndarray, k: int) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    top = vectors[:, np.argsort(values)[::-1][:k]].T
    # A fixed sign: the largest loading of each direction is positive.
    signs = np.sign(top[np.arange(len(top)), np.argmax(np.abs(top), axis=1)])
    return top * np.where(signs == 0, 1.0, signs)[:, None]


def gap_axes(
    emb: Embeddings,
    a: str | None = None,
    b: str | None = None,
    n_components: int = 2,
    *,
    modalities: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Origin and orthonormal axes of the gap-axis projection.

    Returns
    -------
    origin : ndarray of shape (D,)
        Midpoint of the two centroids.
    axes : ndarray of shape (n_components, D)
        Row 0 is ``Δ / ‖Δ‖`` (exact centroids); rows 1… the top principal
        directions of the rows of ``modalities`` (default all) with their ``Δ``
        component removed, fitted on at most 50,000 evenly spaced pairs.

    Raises
    ------
    ValueError
        When the centroids coincide (there is no gap direction).

    Examples
    --------
    >>> import numpy as np, amumo as am
    >>> origin, axes = gap_axes(am.datasets.clip_coco500())
    >>> axes.shape, bool(np.allclose(axes @ axes.T, np.eye(2)))
    ((2, 512), True)
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    names = _names(emb, modalities)
    k = int(n_components)
    if k != n_components or not 1 <= k <= emb.dim:
        raise ValueError(f"n_components={n_components!r} must be an integer in 1..{emb.dim}.")
    sums = GapStats().update(emb, (a, b))  # exact centroids, one blocked pass
    mu_a, mu_b = sums.mean(a), sums.mean(b)
    delta = mu_a - mu_b
    norm = float(np.linalg.norm(delta))
    if norm < 1e-12:
        raise ValueError(
            f"the centroids of {a!r} and {b!r} coincide, so there is no gap axis; "
            "use projection 'pca' (or fit the axes on the embeddings before closing the gap)."
        )
    u = delta / norm
    axes = [u]
    if k > 1:
        axes.extend(_top_directions(_scatter(emb, names, u), k - 1))
    return (mu_a + mu_b) / 2.0, np.vstack(axes)


def gap_projection(
    emb: Embeddings,
    a: str | None = None,
    b: str | None = None,
    n_components: int = 2,
    *,
    reference: Embeddings | None = None,
    modalities: Sequence[str] | None = None,
    frame: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Coordinates of every item on the gap axis and the main directions across it.

    Parameters
    ----------
    emb : Embeddings
    a, b : str, optional
        The modalities whose centroids define the gap (default the first two).
    n_components : int, default 2
    reference : Embeddings, optional
        Fit origin and axes on these embeddings (same modalities and D) and
        project ``emb`` in that frame — e.g. the embeddings before a gap shift,
        so the picture does not turn when the gap closes (after closing, the
        gap direction of ``emb`` itself is noise).
    modalities : sequence of str, optional
        Which modalities to project, in order (default all).
    frame : (origin, axes), optional
        A frame from :func:`gap_axes` to reuse (then ``reference``, ``a``, ``b``
        and ``n_components`` are not used to fit one).

    Returns
    -------
    ndarray of shape (M·N, n_components), float32
        Rows in the order of :func:`amumo.similarity`; column 0 is the
        coordinate along the gap.

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> xy = gap_projection(emb)
    >>> n = len(emb)
    >>> round(float(xy[:n, 0].mean() - xy[n:, 0].mean()), 4)  # the gap distance
    0.8514
    """
    emb = check_embeddings(emb)
    names = _names(emb, modalities)
    if frame is None:
        fit = emb if reference is None else check_embeddings(reference, "reference")
        if fit.dim != emb.dim:
            raise ValueError(f"reference has D = {fit.dim} but emb has D = {emb.dim}.")
        origin, axes = gap_axes(fit, a, b, n_components, modalities=names)
    else:
        origin, axes = (np.asarray(v, dtype=np.float64) for v in frame)
        if axes.ndim != 2 or axes.shape[1] != emb.dim or origin.shape != (emb.dim,):
            raise ValueError(f"frame must be (origin (D,), axes (k, D)) with D = {emb.dim}.")
    parts = []
    for name in names:
        rows = emb[name]
        for part in row_blocks(len(rows), _rows.ROW_BLOCK):
            block = np.array(rows[part], dtype=np.float64)
            release_rows(rows, part)  # memory-mapped: one block RSS
            parts.append((block - origin) @ axes.T)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def pca_gap_share(
    emb: Embeddings, a: str | None = None, b: str | None = None, n_components: int = 2
) -> float:
    """Share of ``‖Δ‖²`` inside the span of the first ``n_components`` principal components.

    PCA is fitted on all rows (as :func:`amumo.project` does; on at most
    5,000 evenly spaced pairs). 1 when the gap lies in the PCA plane, near 0
    when PCA's plane is orthogonal to it.

    Examples
    --------
    >>> import amumo as am
    >>> round(pca_gap_share(am.datasets.clip_coco500()), 3)
    1.0
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    if len(emb) > SHARE_SPREAD_ABOVE:  # runs of consecutive pairs: 5,000 scattered rows of
        from amumo.analysis.streaming import spread_sample  # a cold 20 GB file took 14 s

        emb = emb.subset(spread_sample(len(emb), SHARE_MAX_PAIRS))
    elif len(emb) > SHARE_MAX_PAIRS:
        emb = emb.subset(np.linspace(0, len(emb) - 1, SHARE_MAX_PAIRS).astype(np.int64))
    delta = GapStats().update(emb, (a, b)).gap_vector(a, b)
    norm = float(np.linalg.norm(delta))
    if norm < 1e-12:
        return 1.0  # no gap to hide
    top = _top_directions(_scatter(emb, emb.modalities, None), int(n_components))
    return float(np.sum((top @ (delta / norm)) ** 2))


def pca_hides_gap(
    emb: Embeddings, a: str | None = None, b: str | None = None, threshold: float = 0.5
) -> bool:
    """True when PC 1–2 hold less than ``threshold`` of ``‖Δ‖²`` (see :func:`pca_gap_share`).

    The scatter widgets then default to the gap-axis projection. On the
    shipped CLIP pairs PC 1 is the gap (share 1.0); on the shipped tiny model's
    embeddings of unseen shapes the share is 0.02 (the gap lies along PC 5).

    Examples
    --------
    >>> import amumo as am
    >>> pca_hides_gap(am.datasets.clip_coco500())
    False
    """
    return pca_gap_share(emb, a, b, 2) < float(threshold)
