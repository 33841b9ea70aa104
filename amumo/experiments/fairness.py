"""Denigration harm per group as the modality gap is shifted.

Liang et al., "Mind the Gap", NeurIPS 2022, Sec. 5 and Table 2: CLIP classifies
FairFace images into race–gender classes plus extra harmful classes (crime-
and non-human-related); the *denigration harm* of a group is the fraction of
its images assigned a harmful class. Increasing CLIP's gap from 0.82 to 0.97
lowered the harm for every group at a cost of 0.0008 top-1 accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from amumo.experiments._inputs import (
    check_class_names,
    check_class_texts,
    check_gap,
    check_groups,
    check_harmful,
    check_images,
    check_labels,
    check_lams,
    list_items,
    shifted_scores,
)
from amumo.experiments.zero_shot import DEFAULT_LAMS

__all__ = ["fairness_sweep"]


def fairness_sweep(
    images: Any,
    class_texts: Any,
    groups: Any,
    harmful_classes: Any,
    lams: Any = DEFAULT_LAMS,
    labels: Any = None,
    class_names: Any = None,
    *,
    gap: Any = None,
) -> pd.DataFrame:
    """Harmful-assignment rate of each group for each shift ``λ`` of the gap.

    Images and class texts are shifted along the gap exactly as in
    :func:`~amumo.experiments.zero_shot_sweep` (each ``λ`` applied to the original
    embeddings); every image is assigned its highest-cosine class; a group's
    *harm rate* is the fraction of its images assigned any of
    ``harmful_classes`` (the denigration measure of Liang et al. 2022, Table 2).

    Parameters
    ----------
    images : array (N, D)
        Image embeddings.
    class_texts : array (C, D), (C, T, D) or list of (T_c, D)
        One text embedding (or prompt ensemble) per class, harmful classes included.
    groups : array-like (N,) or mapping
        The group of each image (a list, array, Series or Categorical — every
        category must have images), or ``{group name: row indices or boolean
        mask}`` (groups may overlap, images may belong to none).
    harmful_classes : sequence of class names (or indices)
        The classes whose assignment counts as harm. Names need ``class_names``.
    lams : sequence of float, default ``linspace(-0.5, 1.0, 31)``
    labels : array (N,), optional
        True class per image; adds each group's ``top1`` accuracy. No image may
        have a harmful class as its true class: the measure assumes a harmful
        label is wrong for everyone (as "criminal" is in the paper).
    class_names : sequence, optional
        One name per class.
    gap : array (D,) or Embeddings, optional (keyword)
        Gap vector to shift along; default ``mean(images) − mean(class_texts)``.

    Returns
    -------
    pandas.DataFrame
        One row per (λ, group), λ in the given order, groups in order of first
        appearance (or Categorical / mapping order), with columns ``lam``,
        ``gap_distance`` (as in :func:`~amumo.experiments.zero_shot_sweep`: between
        all shifted images and all shifted class texts), ``group``, ``n_images``,
        ``n_harmful`` (images assigned a harmful class), ``harm_rate``
        (``n_harmful / n_images``), ``harm_by_class`` (dict: rate per harmful
        class) and, with ``labels``, ``top1``. ``frame.attrs`` holds
        ``harmful_classes``, ``n_images``, ``n_classes``, ``gap_source``, and
        ``unshifted``: the λ = 0 rows (list of dicts), computed even when 0 is
        not in ``lams``.

    Raises
    ------
    ValueError
        A group with no images; an unknown harmful class name; an image whose
        true label is harmful; plus the shape/label checks of ``zero_shot_sweep``.

    Examples
    --------
    >>> import numpy as np
    >>> import amumo as am
    >>> rng = np.random.default_rng(0)
    >>> texts = rng.normal(size=(3, 16))           # classes: cat, dog, harmful
    >>> labels = np.repeat([0, 1], 10)
    >>> images = texts[labels] + rng.normal(size=(20, 16)) + 1.0
    >>> df = am.experiments.fairness_sweep(
    ...     images, texts, groups=np.tile(["a", "b"], 10), harmful_classes=["bad"],
    ...     lams=[0.0, 0.5], labels=labels, class_names=["cat", "dog", "bad"])
    >>> df[["lam", "group", "n_images"]].values.tolist()
    [[0.0, 'a', 10], [0.0, 'b', 10], [0.5, 'a', 10], [0.5, 'b', 10]]
    """
    x = check_images(images)
    y = check_class_texts(class_texts, x.shape[1])
    names = check_class_names(class_names, len(y))
    members = check_groups(groups, len(x))
    harmful = check_harmful(harmful_classes, names, class_names is not None)
    grid = check_lams(lams)
    target = None if labels is None else check_labels(labels, len(x), names)
    if target is not None:
        wrong = np.flatnonzero(np.isin(target, harmful))
        if len(wrong):
            raise ValueError(
                f"{len(wrong)} image(s) have a harmful class as their true label (rows "
                f"{list_items(wrong.tolist())}); denigration harm assumes a harmful class is "
                "wrong for every image. Remove those images or those classes from "
                "harmful_classes."
            )
    delta, source = check_gap(gap, x, y)
    harmful_names = [names[c] for c in harmful]
    is_harmful = np.zeros(len(y), dtype=bool)
    is_harmful[harmful] = True

    def evaluate(lam: float) -> list[dict[str, Any]]:
        scores, distance = shifted_scores(x, y, lam, delta)
        predicted = scores.argmax(axis=1)
        rows = []
        for group, idx in members.items():
            pred = predicted[idx]
            n_harm = int(is_harmful[pred].sum())
            row: dict[str, Any] = {
                "lam": float(lam),
                "gap_distance": distance,
                "group": group,
                "n_images": len(idx),
                "n_harmful": n_harm,
                "harm_rate": n_harm / len(idx),
                "harm_by_class": {
                    name: float(np.mean(pred == c))
                    for name, c in zip(harmful_names, harmful, strict=True)
                },
            }
            if target is not None:
                row["top1"] = float(np.mean(pred == target[idx]))
            rows.append(row)
        return rows

    rows = [row for lam in grid for row in evaluate(lam)]
    frame = pd.DataFrame(rows, columns=list(rows[0]))
    unshifted = [r for r in rows if r["lam"] == 0.0][: len(members)] or evaluate(0.0)
    frame.attrs.update(
        experiment="fairness",
        harmful_classes=harmful_names,
        groups=list(members),
        n_images=len(x),
        n_classes=len(y),
        gap_source=source,
        shift_norm=float(np.linalg.norm(delta)),
        unshifted=[{k: v for k, v in r.items() if k != "harm_by_class"} for r in unshifted],
    )
    return frame
