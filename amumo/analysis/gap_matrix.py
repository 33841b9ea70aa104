"""The modality gap between every pair of modalities of M-modal embeddings.

ImageBind (image, text, audio, ...) or CLOOME (microscopy, molecules) embed more
than two modalities into one space; the gap of Liang et al. (NeurIPS 2022) and the
relative modality gap of Schrodi et al. (ICLR 2025) are defined per pair of
modalities. :func:`gap_matrix` lays them out as an ``M × M`` table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from amumo.analysis._checks import check_embeddings
from amumo.embeddings.container import Embeddings

__all__ = ["gap_matrix", "GAP_MATRIX_METRICS"]

#: Metrics :func:`gap_matrix` knows by name.
GAP_MATRIX_METRICS = ("gap_distance", "rmg")


def _rmg() -> Callable[..., float]:
    try:
        from amumo.analysis.gap_measures import rmg
    except ImportError as err:  # pragma: no cover - shipped with amumo.analysis
        raise ImportError(
            "metric='rmg' needs amumo.analysis.gap_measures.rmg, which this installation "
            "lacks; use metric='gap_distance'."
        ) from err
    return rmg


def gap_matrix(
    emb: Embeddings,
    metric: str | Callable[[Embeddings, str, str], float] = "gap_distance",
    *,
    modalities: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The gap of every pair of modalities as an ``M × M`` table.

    Cell ``(a, b)`` is the two-modality value: ``am.gap_distance(emb, a, b)`` =
    ``‖mean(emb[a]) − mean(emb[b])‖₂`` (Liang et al., NeurIPS 2022) or
    ``am.rmg(emb, a, b)``, the relative modality gap (Schrodi et al., "Two
    Effects, One Trigger", ICLR 2025). Both are symmetric in ``a, b``, so the
    table is symmetric; the diagonal (a modality against itself) is 0.

    Parameters
    ----------
    emb : Embeddings
        Two or more modalities.
    metric : {"gap_distance", "rmg"} or callable, default "gap_distance"
        A callable ``f(emb, a, b) -> float`` is evaluated for each unordered pair
        once (it should be symmetric).
    modalities : sequence of str, optional
        Rows/columns and their order (default all, in ``emb.modalities`` order).

    Returns
    -------
    pandas.DataFrame
        Index and columns are the modality names; ``df.attrs["metric"]`` names
        the metric.

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> gm = am.gap_matrix(emb)
    >>> gm.round(4)
            image    text
    image  0.0000  0.8514
    text   0.8514  0.0000
    """
    emb = check_embeddings(emb)
    names = tuple(emb.modalities) if modalities is None else tuple(modalities)
    if isinstance(modalities, str):
        raise TypeError(
            f"modalities={modalities!r} is a string; pass a list such as ['image', 'text']."
        )
    for name in names:
        emb.check_modality(name, "modalities")
    if len(set(names)) != len(names):
        raise ValueError(f"modalities={list(names)} names a modality twice.")
    label, fn = _metric(metric)
    m = len(names)
    values = np.zeros((m, m), dtype=np.float64)
    if label == "gap_distance":
        # The same arithmetic as am.gap_distance, with each centroid computed once.
        centroids = [emb[name].mean(axis=0, dtype=np.float64) for name in names]
        for p in range(m):
            for q in range(p + 1, m):
                values[p, q] = values[q, p] = float(np.linalg.norm(centroids[p] - centroids[q]))
    else:
        for p in range(m):
            for q in range(p + 1, m):
                values[p, q] = values[q, p] = float(fn(emb, names[p], names[q]))
    frame = pd.DataFrame(values, index=list(names), columns=list(names))
    frame.attrs["metric"] = label
    return frame


def _metric(metric: Any) -> tuple[str, Callable[..., float]]:
    if callable(metric):
        return str(getattr(metric, "__name__", "metric")), metric
    if metric == "gap_distance":
        from amumo.analysis.gap import gap_distance

        return "gap_distance", gap_distance
    if metric == "rmg":
        return "rmg", _rmg()
    raise ValueError(
        f"metric={metric!r} is unknown; choose one of {GAP_MATRIX_METRICS} or pass a "
        "function f(emb, a, b) -> float."
    )
