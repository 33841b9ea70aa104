"""Summary metrics of paired embeddings: gap, cone, retrieval, alignment/uniformity.

References
----------
- Liang et al. 2022 (gap distance, cone effect as mean in-modality cosine).
- Wang & Isola, "Understanding Contrastive Representation Learning through
  Alignment and Uniformity on the Hypersphere", ICML 2020 (alignment with
  α = 2, uniformity with t = 2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp

from amumo.analysis._checks import check_embeddings, check_temperature
from amumo.analysis.gap import gap_distance
from amumo.analysis.losses import info_nce_from_logits
from amumo.embeddings.container import Embeddings

__all__ = [
    "metrics",
    "paired_cosine",
    "cone_cosine",
    "recall_at_k",
    "alignment",
    "uniformity",
    "separability",
]


def paired_cosine(emb: Embeddings, a: str | None = None, b: str | None = None) -> float:
    """Mean cosine similarity of matching pairs ``cos(a_i, b_i)``.

    Examples
    --------
    >>> import amumo as am
    >>> round(am.paired_cosine(am.datasets.clip_coco500()), 4)
    0.3099
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    x = np.asarray(emb[a], dtype=np.float64)
    y = np.asarray(emb[b], dtype=np.float64)
    return float(np.mean(np.sum(x * y, axis=1)))


def cone_cosine(emb: Embeddings, modality: str) -> float:
    """Mean cosine between distinct items of one modality (the "cone effect").

    Computed in O(N·D) from ``‖Σ x_i‖² = N + Σ_{i≠j} cos(x_i, x_j)``.
    Near 0 for directions spread over the sphere; Liang et al. 2022 find it
    far above 0 already at random initialisation.

    Examples
    --------
    >>> import amumo as am
    >>> round(am.cone_cosine(am.datasets.clip_coco500(), "image"), 3)
    0.531
    """
    emb = check_embeddings(emb)
    emb.check_modality(modality)
    x = np.asarray(emb[modality], dtype=np.float64)
    n = len(x)
    if n < 2:
        raise ValueError("cone_cosine needs at least 2 items of the modality.")
    total = x.sum(axis=0)
    return float((total @ total - np.sum(x * x)) / (n * (n - 1)))


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
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    ks = [k] if np.isscalar(k) else list(k)
    for value in ks:
        if int(value) != value or value < 1:
            raise ValueError(f"k={value!r} must be a positive integer.")
    x = np.asarray(emb[a], dtype=np.float64)
    y = np.asarray(emb[b], dtype=np.float64)
    return _recall_from_sims(x @ y.T, ks)


def _recall_from_sims(sims: np.ndarray, ks: Sequence[int]) -> dict[int, float]:
    """Recall@k of rows retrieving their diagonal column in a square similarity matrix."""
    true = np.diagonal(sims)
    ranks = np.sum(sims > true[:, None], axis=1)
    return {int(value): float(np.mean(ranks < value)) for value in ks}


def alignment(emb: Embeddings, a: str | None = None, b: str | None = None) -> float:
    """Wang & Isola alignment: mean squared distance of pairs ``E‖a_i − b_i‖²`` (0 … 4)."""
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    diff = np.asarray(emb[a], dtype=np.float64) - np.asarray(emb[b], dtype=np.float64)
    return float(np.mean(np.sum(diff * diff, axis=1)))


def uniformity(emb: Embeddings, modality: str, t: float = 2.0, max_items: int = 5000) -> float:
    """Wang & Isola uniformity: ``log E_{i<j} exp(−t‖x_i − x_j‖²)`` within one modality.

    Lower is more uniform; ``0`` means all items coincide. For more than
    ``max_items`` items a fixed evenly spaced subset is used (documented
    approximation; O(N²) otherwise).
    """
    emb = check_embeddings(emb)
    emb.check_modality(modality)
    t = check_temperature(t, "t")
    x = np.asarray(emb[modality], dtype=np.float64)
    if len(x) > max_items:
        x = x[np.linspace(0, len(x) - 1, max_items).astype(int)]
    n = len(x)
    if n < 2:
        raise ValueError("uniformity needs at least 2 items of the modality.")
    sq = np.clip(2.0 - 2.0 * (x @ x.T), 0.0, 4.0)
    iu = np.triu_indices(n, k=1)
    values = -t * sq[iu]
    return float(logsumexp(values) - np.log(len(values)))


def separability(
    emb: Embeddings,
    a: str | None = None,
    b: str | None = None,
    *,
    folds: int = 5,
    max_items: int = 2000,
    seed: int = 0,
) -> float:
    """Cross-validated accuracy of a linear classifier telling modality ``a`` from ``b``.

    1.0 means the modalities occupy linearly separable regions (a gap), 0.5
    means they are mixed. Logistic regression, stratified ``folds``-fold CV,
    at most ``max_items`` rows per modality (a seeded random sample).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    n = len(emb)
    if n < folds:
        raise ValueError(f"separability needs at least folds={folds} pairs, got {n}.")
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(n, size=min(n, max_items), replace=False))
    features = np.concatenate([emb[a][idx], emb[b][idx]]).astype(np.float64)
    target = np.repeat([0, 1], len(idx))
    classifier = LogisticRegression(C=1.0, max_iter=2000)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(np.mean(cross_val_score(classifier, features, target, cv=cv)))


def metrics(
    emb: Embeddings,
    a: str | None = None,
    b: str | None = None,
    temperature: float = 0.01,
    *,
    ks: Sequence[int] = (1, 5, 10),
    include_separability: bool = True,
) -> dict[str, float]:
    """All summary metrics of paired embeddings in one flat dict.

    Keys: ``gap_distance``, ``paired_cosine``, ``cone_cosine:<m>`` for every
    modality, ``recall@k:<a>-><b>`` and ``recall@k:<b>-><a>``, ``info_nce``
    (at ``temperature``), ``alignment``, ``uniformity:<m>``, ``separability``,
    plus ``n_pairs`` and ``temperature``.

    Examples
    --------
    >>> import amumo as am
    >>> m = am.metrics(am.datasets.clip_coco500(), temperature=0.01)
    >>> round(m["gap_distance"], 4), round(m["info_nce"], 4), m["recall@1:image->text"]
    (0.8514, 1.8009, 0.552)
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    temperature = check_temperature(temperature)
    out: dict[str, float] = {
        "n_pairs": float(len(emb)),
        "temperature": temperature,
        "gap_distance": gap_distance(emb, a, b),
        "paired_cosine": paired_cosine(emb, a, b),
    }
    for modality in emb.modalities:
        out[f"cone_cosine:{modality}"] = cone_cosine(emb, modality)
    for k in ks:
        if int(k) != k or k < 1:
            raise ValueError(f"k={k!r} must be a positive integer.")
    # One N x N product serves retrieval in both directions and the loss.
    sims = np.asarray(emb[a], dtype=np.float64) @ np.asarray(emb[b], dtype=np.float64).T
    for src, dst, matrix in ((a, b, sims), (b, a, sims.T)):
        for k, value in _recall_from_sims(matrix, ks).items():
            out[f"recall@{k}:{src}->{dst}"] = value
    out["info_nce"] = info_nce_from_logits(sims / temperature)
    out["alignment"] = alignment(emb, a, b)
    for modality in emb.modalities:
        out[f"uniformity:{modality}"] = uniformity(emb, modality)
    if include_separability:
        out["separability"] = separability(emb, a, b)
    return out
