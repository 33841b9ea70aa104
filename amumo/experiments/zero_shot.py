"""Zero-shot classification accuracy as the modality gap is shifted.

Liang et al., "Mind the Gap: Understanding the Modality Gap in Multi-modal
Contrastive Representation Learning", NeurIPS 2022, Sec. 5 and Table 1: moving
CLIP's image and text embeddings along the gap vector changes zero-shot
accuracy, and the model's own gap is not always the best one.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from amumo.experiments._inputs import (
    check_class_names,
    check_class_texts,
    check_gap,
    check_images,
    check_labels,
    check_lams,
    shifted_scores,
)

__all__ = ["zero_shot_sweep", "per_class_table", "best_shift", "topk_correct"]

#: Default λ grid: widen the gap by half, through the original (0), to closed (1).
DEFAULT_LAMS = tuple(np.round(np.linspace(-0.5, 1.0, 31), 10))


def topk_correct(scores: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Whether each row's true class is among its ``k`` highest scores.

    ``k = 1`` is exactly ``scores.argmax(axis=1) == labels`` (the first of tied
    maxima wins, as in :func:`numpy.argmax`). For ``k > 1`` a row counts as
    correct when fewer than ``k`` classes score strictly higher than the true class.
    """
    if k == 1:
        return scores.argmax(axis=1) == labels
    true_score = scores[np.arange(len(labels)), labels]
    higher = (scores > true_score[:, None]).sum(axis=1)
    return higher < k


def _per_class(correct: np.ndarray, labels: np.ndarray, names: list[Hashable]) -> dict:
    counts = np.bincount(labels, minlength=len(names))
    hits = np.bincount(labels, weights=correct.astype(np.float64), minlength=len(names))
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    return {name: float(a) for name, a in zip(names, acc, strict=True)}


def zero_shot_sweep(
    images: Any,
    class_texts: Any,
    labels: Any,
    lams: Any = DEFAULT_LAMS,
    gap: Any = None,
    *,
    class_names: Any = None,
) -> pd.DataFrame:
    """Zero-shot accuracy for each shift ``λ`` of the modality gap.

    For every ``λ`` the *original* embeddings are shifted (shifts are not
    cumulative): images ``x' = normalise(x − λΔ/2)``, class texts
    ``y' = normalise(y + λΔ/2)`` (:func:`amumo.analysis.gap.shift_arrays`, float64),
    and each image is assigned the class of highest cosine similarity
    (Liang et al. 2022, Sec. 5, Table 1). ``λ = 0`` is the model as it is,
    ``λ = 1`` closes the gap (before re-normalisation), ``λ < 0`` widens it.

    Parameters
    ----------
    images : array (N, D)
        Image embeddings (rows are L2-normalised here).
    class_texts : array (C, D), array (C, T, D) or list of C arrays (T_c, D)
        One text embedding per class, or a prompt ensemble per class: each prompt
        is normalised, the class mean taken and re-normalised (Radford et al. 2021).
        See :func:`amumo.experiments.prompts`.
    labels : array (N,)
        True class index per image (``0 … C−1``), or class names when
        ``class_names`` is given.
    lams : sequence of float, default ``linspace(-0.5, 1.0, 31)``
        Shifts to evaluate, kept in the given order.
    gap : array (D,) or Embeddings, optional
        The gap vector Δ to shift along. Default: ``mean(images) − mean(class_texts)``
        of these (normalised, ensemble-averaged) embeddings, held fixed over the
        sweep. Pass ``am.gap_vector(paired_emb)`` (or the paired ``Embeddings``
        itself) to shift along the image–caption gap of a paired dataset instead.
    class_names : sequence, optional (keyword)
        One name per class; keys of the ``per_class`` dicts. Default ``0 … C−1``.

    Returns
    -------
    pandas.DataFrame
        One row per ``λ``, in the order given, with columns

        - ``lam``: the shift;
        - ``gap_distance``: ``‖mean(images') − mean(class_texts')‖`` of the two
          *shifted* sets (images and class texts, each class counted once) — the
          gap this classifier actually sees; at ``λ = 0`` it is the model's own
          image–class-text gap, whatever ``gap`` the shift followed;
        - ``top1``, ``top5``: accuracy over all images (``top5`` is NaN when there
          are 5 classes or fewer, where it would be 1 by definition);
        - ``mean_per_class``: the mean of the per-class accuracies (balanced
          accuracy; classes without images are left out of the mean);
        - ``per_class``: a dict ``{class name: accuracy}`` (NaN for a class with
          no images); :func:`per_class_table` turns the column into a long table.

        ``frame.attrs`` records ``n_images``, ``n_classes``, ``gap_source``,
        ``shift_norm`` (‖Δ‖), ``class_counts`` and ``unshifted``: the λ = 0 row
        as a dict, computed even when 0 is not in ``lams``.

    Raises
    ------
    ValueError, TypeError
        Wrong shapes, dimensions, NaN, zero rows, labels out of range or of the
        wrong length, names not in ``class_names``, empty ``lams``.

    Notes
    -----
    Round trip: shifting by ``λ`` and then by ``−λ`` **with Δ held fixed**
    (``gap=`` the original vector) is not an exact inverse, because of the
    re-normalisation in between: every embedding ends within ``2ε`` of where it
    started, ``ε = (|λ|‖Δ‖/2)²``, so cosine scores move by at most
    ``4ε + 4ε²`` and every prediction whose top-1 margin exceeds twice that is
    unchanged. With Δ recomputed after the first shift (``gap=None`` on the
    shifted arrays) the error is first order in ``λ`` instead, because the
    shifted sets have a different gap. The sweep itself never composes shifts.

    Examples
    --------
    >>> import numpy as np
    >>> import amumo as am
    >>> rng = np.random.default_rng(0)
    >>> texts = rng.normal(size=(4, 16))
    >>> labels = np.repeat(np.arange(4), 5)
    >>> images = texts[labels] + 0.5 * rng.normal(size=(20, 16)) + 2.0
    >>> df = am.experiments.zero_shot_sweep(images, texts, labels, lams=[0.0, 0.5, 1.0])
    >>> list(df.columns)
    ['lam', 'gap_distance', 'top1', 'top5', 'mean_per_class', 'per_class']
    >>> bool(df.gap_distance.iloc[2] < df.gap_distance.iloc[0])
    True
    """
    x = check_images(images)
    y = check_class_texts(class_texts, x.shape[1])
    names = check_class_names(class_names, len(y))
    target = check_labels(labels, len(x), names)
    grid = check_lams(lams)
    delta, source = check_gap(gap, x, y)

    def evaluate(lam: float) -> dict[str, Any]:
        scores, distance = shifted_scores(x, y, lam, delta)
        top1 = topk_correct(scores, target, 1)
        top5 = topk_correct(scores, target, 5) if len(y) > 5 else None
        per_class = _per_class(top1, target, names)
        present = [v for v in per_class.values() if v == v]
        return {
            "lam": float(lam),
            "gap_distance": distance,
            "top1": float(top1.mean()),
            "top5": float(top5.mean()) if top5 is not None else float("nan"),
            "mean_per_class": float(np.mean(present)),
            "per_class": per_class,
        }

    rows = [evaluate(lam) for lam in grid]
    frame = pd.DataFrame(rows, columns=list(rows[0]))
    unshifted = next((r for r in rows if r["lam"] == 0.0), None) or evaluate(0.0)
    frame.attrs.update(
        experiment="zero_shot",
        n_images=len(x),
        n_classes=len(y),
        gap_source=source,
        shift_norm=float(np.linalg.norm(delta)),
        class_counts=dict(zip(names, np.bincount(target, minlength=len(y)).tolist(),
                              strict=True)),
        unshifted={k: v for k, v in unshifted.items() if k != "per_class"},
    )
    return frame


def per_class_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """Long table ``lam, gap_distance, class, n_images, accuracy`` from a sweep's ``per_class``.

    Examples
    --------
    >>> import numpy as np
    >>> import amumo as am
    >>> rng = np.random.default_rng(0)
    >>> texts = rng.normal(size=(3, 8))
    >>> labels = np.array([0, 0, 1, 2])
    >>> df = am.experiments.zero_shot_sweep(texts[labels], texts, labels, lams=[0.0, 1.0])
    >>> am.experiments.per_class_table(df).shape
    (6, 5)
    """
    if not isinstance(sweep, pd.DataFrame) or "per_class" not in sweep.columns:
        raise TypeError("sweep must be the DataFrame returned by zero_shot_sweep.")
    counts = sweep.attrs.get("class_counts", {})
    rows = [
        {
            "lam": lam,
            "gap_distance": dist,
            "class": name,
            "n_images": counts.get(name, np.nan),
            "accuracy": acc,
        }
        for lam, dist, per_class in zip(
            sweep["lam"], sweep["gap_distance"], sweep["per_class"], strict=True
        )
        for name, acc in per_class.items()
    ]
    return pd.DataFrame(rows, columns=["lam", "gap_distance", "class", "n_images", "accuracy"])


def best_shift(sweep: pd.DataFrame, metric: str = "top1") -> pd.Series:
    """The row of a sweep where ``metric`` is highest.

    Ties are broken toward the smallest ``|λ|`` (the least change to the model),
    then the smallest ``λ``. NaN values are ignored.

    Examples
    --------
    >>> import numpy as np
    >>> import amumo as am
    >>> rng = np.random.default_rng(0)
    >>> texts = rng.normal(size=(3, 8))
    >>> labels = np.array([0, 1, 2])
    >>> df = am.experiments.zero_shot_sweep(texts, texts, labels, lams=[0.0, 0.5])
    >>> float(am.experiments.best_shift(df)["lam"])
    0.0
    """
    if not isinstance(sweep, pd.DataFrame) or "lam" not in sweep.columns:
        raise TypeError("sweep must be a DataFrame returned by zero_shot_sweep.")
    if metric not in sweep.columns or not pd.api.types.is_numeric_dtype(sweep[metric]):
        numeric = [c for c in sweep.columns if pd.api.types.is_numeric_dtype(sweep[c])]
        raise ValueError(f"metric={metric!r} is not a numeric column; choose one of {numeric}.")
    values = sweep[metric].to_numpy(dtype=np.float64)
    if np.isnan(values).all():
        raise ValueError(f"metric={metric!r} is NaN for every λ (e.g. top5 with ≤ 5 classes).")
    best = np.nanmax(values)
    candidates = sweep[values == best]
    order = np.lexsort((candidates["lam"].to_numpy(), np.abs(candidates["lam"].to_numpy())))
    return candidates.iloc[order[0]]
