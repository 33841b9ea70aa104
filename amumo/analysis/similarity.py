"""Cosine similarity matrices and their hierarchical clustering.

Amumo (Humer et al., 2023) shows the ``(M·N)²`` similarity matrix of all
items, in modality blocks: for images and texts its quadrants are
image–image, image–text, text–image and text–text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.cluster.hierarchy import fcluster, leaves_list, linkage, optimal_leaf_ordering
from scipy.spatial.distance import squareform

from amumo.analysis._checks import check_embeddings
from amumo.embeddings.container import Embeddings

__all__ = ["similarity", "cosine_matrix", "cluster_order", "stacked_rows", "CLUSTER_METHODS"]

# Methods that are defined for any dissimilarity, and those that assume
# Euclidean geometry (they get the chord distance sqrt(2 − 2cos) of unit vectors).
_GENERAL = ("average", "complete", "single", "weighted")
_EUCLIDEAN = ("ward", "centroid", "median")
CLUSTER_METHODS = _GENERAL + _EUCLIDEAN
#: Above this many items optimal leaf ordering (cubic in the worst case) is skipped
#: unless asked for explicitly.
OPTIMAL_ORDERING_LIMIT = 2500


def stacked_rows(emb: Embeddings, modalities: Sequence[str] | None = None) -> np.ndarray:
    """Rows of the chosen modalities, concatenated in order: ``(M·N, D)`` float32."""
    emb = check_embeddings(emb)
    names = emb.modalities if modalities is None else tuple(modalities)
    for name in names:
        emb.check_modality(name, "modalities")
    return np.concatenate([emb[name] for name in names], axis=0)


def similarity(emb: Embeddings, modalities: Sequence[str] | None = None) -> np.ndarray:
    """Cosine similarity of every item with every item, modality blocks in order.

    Parameters
    ----------
    emb : Embeddings
    modalities : sequence of str, optional
        Which modalities and in what order (default all, in ``emb.modalities`` order).

    Returns
    -------
    ndarray of shape (M·N, M·N), float32
        Symmetric, unit diagonal; block ``(p, q)`` compares modality ``p`` with ``q``.

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> s = am.similarity(emb)
    >>> s.shape, float(s[0, 0])
    ((1000, 1000), 1.0)
    """
    return cosine_matrix(stacked_rows(emb, modalities))


def cosine_matrix(rows: np.ndarray) -> np.ndarray:
    """Cosine matrix of unit ``rows``: exactly symmetric, clipped to [-1, 1], unit diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> cosine_matrix(np.eye(2, dtype=np.float32)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    sim = rows @ rows.T  # numpy uses a symmetric rank-k update here: exactly symmetric
    np.clip(sim, -1.0, 1.0, out=sim)
    np.fill_diagonal(sim, 1.0)
    return sim


def _check_square(sim: np.ndarray) -> np.ndarray:
    sim = np.asarray(sim)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(
            f"sim has shape {sim.shape}; pass a square similarity matrix such as "
            "am.similarity(emb)."
        )
    if sim.shape[0] < 2:
        raise ValueError("sim must have at least 2 rows to cluster.")
    if not np.issubdtype(sim.dtype, np.number):
        raise TypeError(f"sim has dtype {sim.dtype}; pass a numeric matrix.")
    if not np.isfinite(sim).all():
        raise ValueError("sim contains NaN or Inf; compute it from valid embeddings.")
    return sim


def cluster_order(
    sim: np.ndarray,
    method: str = "average",
    k: int | None = None,
    *,
    optimal: bool | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Leaf order of a hierarchical clustering of a similarity matrix.

    The distance is ``1 − sim`` (a proper condensed distance: symmetric, zero
    diagonal, non-negative); Ward, centroid and median linkage get the chord
    distance ``sqrt(2 − 2·sim)``, which is Euclidean for unit vectors. The tree
    is reordered with optimal leaf ordering (Bar-Joseph et al., 2001) so that
    neighbouring leaves are as similar as possible.

    Parameters
    ----------
    sim : ndarray (n, n)
        Symmetric similarity (e.g. :func:`similarity`).
    method : str, default "average"
        Linkage: one of ``average, complete, single, weighted, ward, centroid, median``.
    k : int, optional
        Also cut the tree into ``k`` clusters and return their labels.
    optimal : bool, optional
        Optimal leaf ordering; default on up to 2,500 items (it is slow beyond).

    Returns
    -------
    order : ndarray of int, shape (n,)
        Permutation: ``sim[order][:, order]`` is the reordered matrix.
    labels : ndarray of int, shape (n,), only when ``k`` is given
        Cluster of each item (original order), numbered 0..k-1 in the order
        the clusters appear along ``order``.

    Examples
    --------
    >>> import numpy as np, amumo as am
    >>> x = np.repeat(np.eye(3), 4, axis=0) + 0.01
    >>> x /= np.linalg.norm(x, axis=1, keepdims=True)
    >>> order, labels = am.cluster_order(x @ x.T, k=3)
    >>> sorted(np.bincount(labels).tolist())
    [4, 4, 4]
    """
    sim = _check_square(sim)
    if method not in CLUSTER_METHODS:
        raise ValueError(f"method={method!r} is unknown; choose one of {CLUSTER_METHODS}.")
    n = sim.shape[0]
    if k is not None:
        if int(k) != k or not 1 <= int(k) <= n:
            raise ValueError(f"k={k!r} must be an integer between 1 and {n}.")
        k = int(k)
    asym = float(np.max(np.abs(sim - sim.T))) if n <= 12000 else 0.0
    if asym > 1e-4:
        raise ValueError(
            f"sim is not symmetric (max |sim - sim.T| = {asym:.2g}); pass a similarity "
            "matrix such as am.similarity(emb)."
        )
    dist = 1.0 - np.asarray(sim, dtype=np.float64)
    np.clip(dist, 0.0, 2.0, out=dist)
    if method in _EUCLIDEAN:
        np.sqrt(2.0 * dist, out=dist)
    np.fill_diagonal(dist, 0.0)
    condensed = squareform(dist, checks=False)
    del dist
    tree = linkage(condensed, method=method)
    if optimal is None:
        optimal = n <= OPTIMAL_ORDERING_LIMIT
    if optimal:
        tree = optimal_leaf_ordering(tree, condensed)
    order = leaves_list(tree).astype(np.intp)
    if k is None:
        return order
    raw = fcluster(tree, t=k, criterion="maxclust")
    # Renumber clusters 0..k-1 in the order they appear along the leaves.
    _, first = np.unique(raw[order], return_index=True)
    appearance = raw[order][np.sort(first)]
    mapping = {old: new for new, old in enumerate(appearance)}
    labels = np.array([mapping[v] for v in raw], dtype=np.intp)
    return order, labels
