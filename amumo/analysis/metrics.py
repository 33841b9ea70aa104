"""Summary metrics of paired embeddings: gap, cone, retrieval, alignment/uniformity.

References
----------
- Liang et al. 2022 (gap distance, cone effect as mean in-modality cosine).
- Wang & Isola, "Understanding Contrastive Representation Learning through
  Alignment and Uniformity on the Hypersphere", ICML 2020 (alignment with
  α = 2, uniformity with t = 2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.special import logsumexp

from amumo.analysis._checks import check_embeddings, check_pairs, check_temperature
from amumo.analysis.retrieval import _check_ks, recall_at_k, retrieval_metrics
from amumo.analysis.stats import GapStats
from amumo.embeddings._rows import take_rows
from amumo.embeddings.container import Embeddings

#: Cross-validation folds of :func:`separability` (it needs at least this many pairs).
SEPARABILITY_FOLDS = 5
_NAN = float("nan")

__all__ = [
    "metrics",
    "paired_cosine",
    "cone_cosine",
    "recall_at_k",  # lives in amumo.analysis.retrieval; re-exported for old imports
    "alignment",
    "uniformity",
    "separability",
]


def paired_cosine(emb: Embeddings, a: str | None = None, b: str | None = None) -> float:
    """Mean cosine similarity of matching pairs ``cos(a_i, b_i)``.

    A view over the sums of :class:`amumo.GapStats` (blocked, no float64 copy of
    the rows); ``ValueError`` for empty embeddings.

    Examples
    --------
    >>> import amumo as am
    >>> round(am.paired_cosine(am.datasets.clip_coco500()), 4)
    0.3099
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    return GapStats().update(check_pairs(emb), (a, b)).paired_cosine(a, b)


def cone_cosine(emb: Embeddings, modality: str) -> float:
    """Mean cosine between distinct items of one modality (the "cone effect").

    Computed in O(N·D) from ``‖Σ x_i‖² = N + Σ_{i≠j} cos(x_i, x_j)`` (the sums
    of :class:`amumo.GapStats`, blocked). Near 0 for directions spread over the
    sphere; Liang et al. 2022 find it far above 0 already at random
    initialisation. ``ValueError`` below 2 pairs (no distinct items; the
    reports :func:`metrics` and :meth:`amumo.GapStats.metrics` give NaN there).

    Examples
    --------
    >>> import amumo as am
    >>> round(am.cone_cosine(am.datasets.clip_coco500(), "image"), 3)
    0.531
    """
    emb = check_embeddings(emb)
    emb.check_modality(modality)
    return GapStats().update(check_pairs(emb), (modality,)).cone_cosine(modality)


def alignment(emb: Embeddings, a: str | None = None, b: str | None = None) -> float:
    """Wang & Isola alignment: mean squared distance of pairs ``E‖a_i − b_i‖²`` (0 … 4).

    A view over the sums of :class:`amumo.GapStats`; ``ValueError`` for empty embeddings.
    """
    emb = check_embeddings(emb)
    a, b = emb.pair_modalities(a, b)
    return GapStats().update(check_pairs(emb), (a, b)).alignment(a, b)


def uniformity(emb: Embeddings, modality: str, t: float = 2.0, max_items: int = 5000) -> float:
    """Wang & Isola uniformity: ``log E_{i<j} exp(−t‖x_i − x_j‖²)`` within one modality.

    Lower is more uniform; ``0`` means all items coincide. For more than
    ``max_items`` items a fixed evenly spaced subset is used (documented
    approximation; O(N²) otherwise).
    """
    emb = check_embeddings(emb)
    emb.check_modality(modality)
    t = check_temperature(t, "t")
    rows = emb[modality]
    if len(rows) > max_items:  # the subset first: never a float64 copy of all rows
        x = take_rows(rows, np.linspace(0, len(rows) - 1, max_items).astype(int), np.float64)
    else:
        x = np.asarray(rows, dtype=np.float64)
    n = len(x)
    if n < 2:
        raise ValueError("uniformity needs at least 2 items of the modality.")
    # Blocks of rows against the columns to their right: memory O(block · n), not n².
    block = max(1, min(n, (1 << 22) // n))
    parts = []
    for start in range(0, n - 1, block):
        stop = min(n, start + block)
        sq = np.clip(2.0 - 2.0 * (x[start:stop] @ x[start:].T), 0.0, 4.0)
        values = -t * sq
        upper = np.arange(start, n)[None, :] > np.arange(start, stop)[:, None]
        parts.append(logsumexp(values[upper]))
    return float(logsumexp(parts) - np.log(n * (n - 1) / 2))


def separability(
    emb: Embeddings,
    a: str | None = None,
    b: str | None = None,
    *,
    folds: int = SEPARABILITY_FOLDS,
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
    features = np.concatenate([take_rows(emb[a], idx), take_rows(emb[b], idx)]).astype(
        np.float64
    )
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
    ks: Sequence[int] | None = None,
    include_separability: bool = True,
    sample: int | str | None = "auto",
    seed: int = 0,
    progress: Callable[[float], object] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float]:
    """All summary metrics of paired embeddings in one flat dict.

    Keys: ``gap_distance``, ``paired_cosine``, ``cone_cosine:<m>`` for every
    modality, ``recall@k:<a>-><b>`` and ``recall@k:<b>-><a>``, ``info_nce``
    (at ``temperature``), ``alignment``, ``uniformity:<m>``, ``separability``,
    ``rmg``, ``l2i``, ``centroid_cosine``, plus ``n_pairs``, ``temperature``,
    ``retrieval_queries`` and ``retrieval_exact``. ``ks`` defaults to
    ``(1, 5, 10)`` less the values above ``N`` (recall@k is 1.0 by construction
    there); explicit ``ks`` above ``N`` raise.

    Memory stays O(N·D) at any N. Everything that follows from sums
    (gap, cosines, alignment, L2I, RMG) is exact, from :class:`amumo.GapStats`.
    Retrieval and InfoNCE are blocked (:mod:`amumo.analysis.retrieval`): exact
    with ``sample=None``; with ``sample="auto"`` (default) exact up to 10,000
    pairs, above that estimated from a seeded sample of 1,000 queries per
    direction (500 at 1M pairs, see ``resolve_sample``) against **all**
    candidates, with 95 % intervals in ``<key>:ci_low`` / ``<key>:ci_high`` and
    ``retrieval_exact = 0.0``; an int
    sets the number of queries. Uniformity uses at most 5,000 evenly spaced items
    and separability a seeded sample of 2,000 pairs (both documented there).

    Every key is present for N ≥ 1 pairs; a quantity the data cannot define is
    NaN rather than an error, so the defined numbers of a small selection stay
    visible (the rule of :mod:`amumo.analysis.stats`, "Undefined values"):
    ``cone_cosine:<m>``, ``uniformity:<m>`` and ``rmg`` need 2 pairs (they
    average over distinct items of a modality), ``separability`` needs 5 (its
    5-fold cross-validation), ``centroid_cosine`` a non-zero centroid, ``rmg``
    some spread inside a modality. Empty embeddings (N = 0) raise ``ValueError``.

    Parameters
    ----------
    sample : "auto", None or int, default "auto"
    seed : int, default 0
        Seed of the query sample (and of separability).
    progress, should_stop : callable, optional
        ``progress(fraction)`` while the retrieval part runs; ``should_stop()``
        returning True raises :class:`amumo.analysis.retrieval.Cancelled`.

    Examples
    --------
    >>> import amumo as am
    >>> m = am.metrics(am.datasets.clip_coco500(), temperature=0.01)
    >>> round(m["gap_distance"], 4), round(m["info_nce"], 4), m["recall@1:image->text"]
    (0.8514, 1.8009, 0.552)
    """
    emb = check_pairs(emb)
    a, b = emb.pair_modalities(a, b)
    temperature = check_temperature(temperature)
    if ks is None:  # the default: recall@1, 5, 10, each only where k <= N
        ks = [k for k in (1, 5, 10) if k <= len(emb)]
    ks = _check_ks(ks, len(emb), "ks")
    sums = GapStats().update(emb).metrics(a, b)  # exact, O(N·D), one pass over the rows
    out: dict[str, float] = {
        "n_pairs": float(len(emb)),
        "temperature": temperature,
        "gap_distance": sums["gap_distance"],
        "paired_cosine": sums["paired_cosine"],
    }
    for modality in emb.modalities:
        out[f"cone_cosine:{modality}"] = sums[f"cone_cosine:{modality}"]
    retrieval = retrieval_metrics(
        emb, a, b, temperature, ks, sample=sample, seed=seed, progress=progress,
        should_stop=should_stop,
    )
    out.update(retrieval)
    out["alignment"] = sums["alignment"]
    for modality in emb.modalities:
        out[f"uniformity:{modality}"] = uniformity(emb, modality) if len(emb) >= 2 else _NAN
    if include_separability:
        out["separability"] = (separability(emb, a, b, seed=seed)
                               if len(emb) >= SEPARABILITY_FOLDS else _NAN)
    for key in ("rmg", "l2i", "centroid_cosine"):
        out[key] = sums[key]
    return out
