"""Cosine similarity matrices and their hierarchical clustering.

Amumo (Humer et al., 2023) shows the ``(M·N)²`` similarity matrix of all
items, in modality blocks: for images and texts its quadrants are
image–image, image–text, text–image and text–text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.cluster.hierarchy import fcluster, leaves_list, linkage, optimal_leaf_ordering
from scipy.spatial.distance import squareform

from amumo.analysis._checks import check_embeddings
from amumo.analysis._progress import Hook
from amumo.embeddings._rows import release_rows, take_rows
from amumo.embeddings.container import Embeddings

__all__ = [
    "similarity",
    "cosine_matrix",
    "cluster_order",
    "cluster_pairs",
    "cluster_medoids",
    "stacked_rows",
    "CLUSTER_METHODS",
]

# Methods that are defined for any dissimilarity, and those that assume
# Euclidean geometry (they get the chord distance sqrt(2 − 2cos) of unit vectors).
_GENERAL = ("average", "complete", "single", "weighted")
_EUCLIDEAN = ("ward", "centroid", "median")
CLUSTER_METHODS = _GENERAL + _EUCLIDEAN
#: Above this many items optimal leaf ordering (cubic in the worst case) is skipped
#: unless asked for explicitly.
OPTIMAL_ORDERING_LIMIT = 2500
#: Up to this many items cluster_order checks that ``sim`` is symmetric (``sim - sim.T``
#: is a temporary of the matrix's size: ~1.2 GB at 12,000 items); larger matrices are
#: trusted.
SYMMETRY_CHECK_LIMIT = 12_000


def stacked_rows(emb: Embeddings, modalities: Sequence[str] | None = None) -> np.ndarray:
    """Rows of the chosen modalities, concatenated in order: ``(M·N, D)`` float32."""
    emb = check_embeddings(emb)
    names = emb.modalities if modalities is None else tuple(modalities)
    for name in names:
        emb.check_modality(name, "modalities")
    # float32 whatever the storage: float16 rows (memory-mapped float16 files) would give
    # a float16 product, slowly (numpy has no float16 BLAS) and to ~3 digits
    return np.concatenate([emb[name] for name in names], axis=0, dtype=np.float32)


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
    asym = float(np.max(np.abs(sim - sim.T))) if n <= SYMMETRY_CHECK_LIMIT else 0.0
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


#: cluster_pairs: up to this many pairs hierarchical clustering (an N × N matrix);
#: above, k-means in O(N·D) memory.
HIERARCHICAL_LIMIT = 3000
#: k-means is fitted on a seeded sample of at most this many pairs, then every pair is
#: assigned to its nearest centroid in blocks.
KMEANS_FIT = 10_000
_ASSIGN_BLOCK = 8192


def _pair_features(emb: Embeddings, by: str) -> tuple[Callable[[np.ndarray | slice], np.ndarray],
                                                       int]:
    """A function giving the clustering features of some pairs, and their width.

    ``by="all"``: each pair's unit rows concatenated and divided by ``sqrt(M)`` (a
    unit vector whose dot products are the mean per-modality cosine); else that
    modality's rows. Built per block, never for all pairs at once.
    """
    names = (emb.check_modality(by, "by"),) if by != "all" else emb.modalities
    scale = np.float32(1.0 / np.sqrt(len(names)))

    def features(idx: np.ndarray | slice) -> np.ndarray:
        parts = [np.array(emb[m][idx], dtype=np.float32) if isinstance(idx, slice)
                 else take_rows(emb[m], idx, np.float32) for m in names]
        if isinstance(idx, slice):
            for m in names:
                release_rows(emb[m], idx)  # memory-mapped input: RSS of one block
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts, axis=1) * scale

    return features, emb.dim * len(names)


def cluster_pairs(
    emb: Embeddings,
    k: int = 6,
    method: str = "ward",
    *,
    by: str = "all",
    seed: int = 0,
    limit: int = HIERARCHICAL_LIMIT,
    progress: Callable[[float], object] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Order and group pairs by similarity, at any N: ``(order, labels)``.

    Up to ``limit`` pairs (default 3,000): hierarchical clustering of the pairs'
    cosine matrix with optimal leaf order (:func:`cluster_order`, linkage
    ``method``), cut into ``k`` clusters. Above: k-means (scikit-learn
    ``KMeans``, ``n_init=2``, seeded) fitted on a seeded sample of at most
    :data:`KMEANS_FIT` pairs, every pair assigned to its nearest centroid in
    blocks; clusters are ordered by the optimal leaf order of their centroids'
    cosine similarities (average linkage) and the pairs inside a cluster by
    decreasing cosine to its centroid (most typical first). Memory O(N·D); no
    N × N matrix. ``method`` only applies below ``limit``.

    Parameters
    ----------
    emb : Embeddings
    k : int, default 6
        Number of clusters (at most N).
    method : str, default "ward"
        Linkage for the hierarchical case (see :data:`CLUSTER_METHODS`).
    by : "all" or a modality name
        Cluster on the mean cosine over modalities, or on one modality's cosine.
    seed : int, default 0
    limit : int, default 3000
    progress, should_stop : callable, optional
        Progress (0..1) and cancellation between blocks (k-means case).

    Returns
    -------
    order : ndarray of int (N,)
        Permutation of the pairs.
    labels : ndarray of int (N,)
        Cluster of each pair (original order), numbered 0..k-1 along ``order``.

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> order, labels = cluster_pairs(emb, k=4, limit=100)  # k-means branch
    >>> sorted(order.tolist()) == list(range(500)), int(labels.max())
    (True, 3)
    >>> bool(np.all(np.diff(labels[order]) >= 0))  # clusters are contiguous along order
    True
    """
    emb = check_embeddings(emb)
    n = len(emb)
    if isinstance(k, bool) or int(k) != k or not 1 <= int(k) <= n:
        raise ValueError(f"k={k!r} must be an integer between 1 and {n} (the number of pairs).")
    k = int(k)
    features, _ = _pair_features(emb, by)
    hook = Hook(progress, should_stop)
    if n <= int(limit):
        sim = cosine_matrix(features(slice(None)))
        order, labels = cluster_order(sim, method=method, k=k)
        hook.step(1.0)
        return np.asarray(order), np.asarray(labels)
    return _kmeans_order(features, n, k, seed, hook)


def _kmeans_order(
    features: Callable[[np.ndarray | slice], np.ndarray], n: int, k: int, seed: int, hook: Hook
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    fit = np.sort(rng.choice(n, size=min(n, KMEANS_FIT), replace=False))
    hook.step(0.0)
    # float64 input: scikit-learn's float32 path up-casts in chunks and is ~3x slower here
    model = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(
        features(fit).astype(np.float64)
    )
    hook.step(0.3)
    centres = model.cluster_centers_.astype(np.float32)
    half_sq = 0.5 * np.einsum("ij,ij->i", centres, centres)
    raw = np.empty(n, dtype=np.intp)
    sums = np.zeros(centres.shape)
    for start in range(0, n, _ASSIGN_BLOCK):
        rows = features(slice(start, min(n, start + _ASSIGN_BLOCK)))
        # nearest centre: argmin ‖x − c‖² = argmax (x·c − ‖c‖²/2)
        nearest = np.argmax(rows @ centres.T - half_sq, axis=1)
        raw[start : start + len(rows)] = nearest
        one_hot = np.zeros((k, len(rows)), dtype=np.float32)
        one_hot[nearest, np.arange(len(rows))] = 1.0
        sums += (one_hot @ rows).astype(np.float64)
        hook.step(0.3 + 0.5 * (start + len(rows)) / n)
    counts = np.bincount(raw, minlength=k)
    means = sums / np.maximum(counts, 1)[:, None]
    unit = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    used = np.flatnonzero(counts)
    if len(used) >= 3:
        sim = np.clip(unit[used] @ unit[used].T, -1.0, 1.0)
        sim = (sim + sim.T) / 2.0
        np.fill_diagonal(sim, 1.0)
        cluster_seq = used[np.asarray(cluster_order(sim, method="average", optimal=True))]
    else:
        cluster_seq = used
    typical = np.empty(n)
    unit32 = unit.astype(np.float32)
    for start in range(0, n, _ASSIGN_BLOCK):
        stop = min(n, start + _ASSIGN_BLOCK)
        rows = features(slice(start, stop))
        typical[start:stop] = np.einsum("ij,ij->i", rows, unit32[raw[start:stop]])
    hook.step(0.95)
    rank = np.empty(k, dtype=np.intp)
    rank[cluster_seq] = np.arange(len(cluster_seq))
    labels = rank[raw]
    order = np.lexsort((np.arange(n), -typical, labels)).astype(np.intp)
    hook.step(1.0)
    return order, labels.astype(np.intp)


def cluster_medoids(
    emb: Embeddings, labels: np.ndarray, by: str = "all", *,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """The most typical pair of each cluster: highest mean cosine to its cluster.

    A cluster's *medoid* here is the member ``i`` whose mean cosine to the members
    ``j`` of its cluster (itself included), ``(1/n_c) Σ_j x_i · x_j``, is largest, on
    the features the clusters were made from (``by``: a modality's rows, or ``"all"``:
    the pairs' rows concatenated, see :func:`cluster_pairs`). By bilinearity that mean
    is ``x_i · mean_c``, the dot product with the cluster's mean row, so every medoid is
    exact at any size in two passes over the rows (O(N·D), no cluster-by-cluster
    cosine matrix and no sample). Excluding ``j = i`` changes no medoid: every row has
    ``x_i · x_i = 1``. Equal means go to the lower pair index.

    Parameters
    ----------
    emb : Embeddings
    labels : array of int (N,)
        Cluster of each pair, ``0 … k − 1`` (e.g. from :func:`cluster_pairs`).
    by : "all" or a modality name, default "all"
    should_stop : callable, optional
        Checked between blocks (:class:`amumo.analysis._progress.Cancelled`).

    Returns
    -------
    ndarray of int (k,)
        Pair index of each cluster's medoid (``-1`` for a label with no members).

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> labels = np.repeat([0, 1], 250)
    >>> medoids = cluster_medoids(emb, labels, by="image")
    >>> x = np.asarray(emb["image"][:250], dtype=np.float64)
    >>> int(medoids[0]) == int(np.argmax((x @ x.T).mean(axis=1)))
    True
    """
    emb = check_embeddings(emb)
    n = len(emb)
    labels = np.asarray(labels)
    if labels.shape != (n,) or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(
            f"labels must be one integer cluster per pair, shape ({n},); got "
            f"{labels.dtype} {labels.shape}."
        )
    if n and int(labels.min()) < 0:
        raise ValueError("labels must be 0 … k − 1 (no negative cluster ids).")
    k = int(labels.max()) + 1 if n else 0
    features, width = _pair_features(emb, by)
    hook = Hook(should_stop=should_stop)
    sums = np.zeros((k, width))
    for start in range(0, n, _ASSIGN_BLOCK):
        stop = min(n, start + _ASSIGN_BLOCK)
        hook.step(0.5 * start / max(1, n))
        rows = features(slice(start, stop)).astype(np.float64)
        if k <= 64:  # a product with the block's one-hot labels (fast for few clusters)
            one_hot = np.zeros((k, stop - start))
            one_hot[labels[start:stop], np.arange(stop - start)] = 1.0
            sums += one_hot @ rows
        else:
            np.add.at(sums, labels[start:stop], rows)
    best = np.full(k, -np.inf)
    medoid = np.full(k, -1, dtype=np.int64)
    for start in range(0, n, _ASSIGN_BLOCK):
        stop = min(n, start + _ASSIGN_BLOCK)
        hook.step(0.5 + 0.5 * start / max(1, n))
        part = labels[start:stop]
        rows = features(slice(start, stop)).astype(np.float64)
        score = np.einsum("ij,ij->i", rows, sums[part])  # n_c × the mean cosine
        # the best of this block per cluster (first index among equals), then the running best
        order = np.lexsort((np.arange(len(part)), -score, part))
        first = order[np.r_[True, part[order][1:] != part[order][:-1]]]
        for i in first:
            c = part[i]
            if score[i] > best[c]:
                best[c], medoid[c] = score[i], start + i
    return medoid
