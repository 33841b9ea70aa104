"""Post-hoc remedies for the modality gap, with a before / after report.

Three methods, each a map of the stored unit rows followed by re-normalisation:

- ``"shift"`` — move the modalities toward each other along the gap
  (Liang et al., NeurIPS 2022): with two modalities exactly :func:`amumo.shift`
  (``x ← x − λΔ/2``, ``y ← y + λΔ/2``); with more, every modality moves by
  ``λ (c̄ − c_m)`` toward the mean ``c̄`` of the centroids ``c_m``.
- ``"center"`` — subtract each modality's own mean, ``x ← x − s·mean(x)``
  (mean-centring per modality; with ``s = 1`` the gap before re-normalising is 0).
- ``"standardize"`` — per-modality, per-dimension standardisation
  ``x ← (x − s·μ) / σ^s`` with the modality's mean ``μ`` and standard deviation
  ``σ`` (I0T, Y. An et al., "I0T: Embedding Standardization Method Towards Zero
  Modality Gap", arXiv:2412.14384, 2024, its post-hoc variant).

``strength`` interpolates from the identity (0) to the full method (1; for
``"shift"`` it is ``λ`` and may exceed 1 or be negative). Every method maps all
modalities when the embeddings have more than two (``a``/``b`` only choose the
pair the report measures); "shift" with ``a``/``b`` given moves only those two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from amumo.analysis._checks import check_embeddings, check_finite
from amumo.analysis.gap import lazy_result, shift
from amumo.analysis.gap_measures import gap_summary
from amumo.analysis.row_map import RowMap
from amumo.embeddings import _rows
from amumo.embeddings._lazy import LazyRows, Step, affine_block
from amumo.embeddings._rows import release_rows, row_blocks
from amumo.embeddings.container import Embeddings

__all__ = ["mitigate", "MITIGATIONS", "gap_report"]

MITIGATIONS = ("shift", "center", "standardize")


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and standard deviation (ddof 0) from float64 sums, block by block."""
    total = np.zeros(x.shape[1])
    squares = np.zeros(x.shape[1])
    for rows in row_blocks(len(x), _rows.ROW_BLOCK):
        block = np.asarray(x[rows], dtype=np.float64)
        total += block.sum(axis=0)
        squares += np.einsum("ij,ij->j", block, block)
        release_rows(x, rows)
    mean = total / len(x)
    return mean, np.sqrt(np.clip(squares / len(x) - mean * mean, 0.0, None))


def _affine_unit(
    name: str, x: np.ndarray, offset: np.ndarray, scale: np.ndarray | None, method: str
) -> np.ndarray:
    """``normalise((x − offset) / scale)`` as float32 unit rows, block by block (no full
    float64 copy); raises when a row maps to zero."""
    out = np.empty(x.shape, dtype=np.float32)
    for rows in row_blocks(len(x), _rows.ROW_BLOCK):
        start = rows.start
        # the arithmetic of LazyRows' "affine" step (one home: amumo.embeddings._lazy)
        out[rows] = affine_block(x[rows], offset, scale, start, lambda count, first: (
            f"method={method!r} maps {count} row(s) of {name!r} to zero (e.g. pair "
            f"{first}); lower strength."
        ))
        release_rows(x, rows)  # memory-mapped input: RSS of one block
    return out


def _transform(
    emb: Embeddings, method: str, strength: float, row_map: RowMap | None = None,
    lazy: bool = False,
) -> dict[str, Any]:
    """Float32 unit rows of every modality after ``method`` (see the module description);
    ``lazy``: rows computed when read (:class:`~amumo.embeddings._lazy.LazyRows`). The step
    each modality took goes into ``row_map`` (x ← unit(x / scale + offset))."""
    moments = {m: _moments(emb[m]) for m in emb.modalities}
    out = {}
    moves: dict[str, tuple[Any, np.ndarray]] = {}

    def mapped(m: str, offset: np.ndarray, scale: np.ndarray | None) -> Any:
        divisor = 1.0 if scale is None else scale
        moves[m] = (divisor, -offset / divisor)
        if lazy:
            where = f"method={method!r} on {m!r}"
            return LazyRows(emb[m], [Step("affine", offset, scale, where)])
        return _affine_unit(m, emb[m], offset, scale, method)

    if method == "shift":  # every centroid moves λ of the way to the mean of the centroids
        common = np.mean([mean for mean, _ in moments.values()], axis=0)
        for m, (mean, _) in moments.items():
            out[m] = mapped(m, -strength * (common - mean), None)
    else:
        for m, (mean, std) in moments.items():
            scale = None
            if method == "standardize":
                scale = np.where(std > 0, std, 1.0) ** strength  # a constant dimension stays
            out[m] = mapped(m, strength * mean, scale)
    if row_map is not None:
        row_map.add(moves)
    return out


def mitigate(
    emb: Embeddings,
    method: str = "center",
    strength: float = 1.0,
    a: str | None = None,
    b: str | None = None,
    *,
    report: bool = True,
    row_map: RowMap | None = None,
    lazy: bool | None = None,
) -> Embeddings:
    """Reduce the modality gap post hoc with ``method`` and record the effect.

    Parameters
    ----------
    emb : Embeddings
    method : {"shift", "center", "standardize"}, default "center"
        See the module description for the formulas and references.
    strength : float, default 1.0
        0 = unchanged, 1 = the full method. For ``"shift"`` this is ``λ`` of
        :func:`amumo.shift` (any finite value; 1 nearly closes the gap). For
        ``"center"`` and ``"standardize"`` it must lie in [0, 1].
    a, b : str, optional
        The pair the before / after report measures (default the first two).
        ``"shift"`` with ``a`` or ``b`` given moves only those two modalities.
    report : bool, default True
        Store ``before`` and ``after`` (:func:`amumo.gap_summary`, with
        recall@1) in ``result.provenance["mitigation"]``. Show them side by
        side with :func:`gap_report`.
    lazy : bool, optional
        Keep the new rows as rows computed when read (the same float32 values, no copy);
        default when their float32 copy would exceed 5 GiB (see :func:`amumo.shift`).

    Returns
    -------
    Embeddings
        New embeddings (unit rows, same meta); the input is not modified.

    Raises
    ------
    ValueError
        Unknown method, strength out of range, or a row that becomes zero.

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> centred = am.mitigate(emb, "center")
    >>> info = centred.provenance["mitigation"]
    >>> round(info["before"]["gap_distance"], 3), info["after"]["gap_distance"] < 0.1
    (0.851, True)
    >>> am.gap_report({"CLIP": emb, "centred": centred}).loc["rmg"].round(3).tolist()
    [0.591, 0.406]
    """
    emb = check_embeddings(emb)
    if method not in MITIGATIONS:
        raise ValueError(f"method={method!r} is unknown; choose one of {MITIGATIONS}.")
    strength = check_finite(strength, "strength")
    if method != "shift" and not 0.0 <= strength <= 1.0:
        raise ValueError(
            f"strength={strength} must lie in [0, 1] for method={method!r} "
            "(0 = unchanged, 1 = full)."
        )
    pa, pb = emb.pair_modalities(a, b)
    if method == "shift" and (len(emb.modalities) == 2 or a is not None or b is not None):
        result = shift(emb, strength, pa, pb, row_map=row_map, lazy=lazy)
        if result is emb:
            result = emb._derive({m: emb[m] for m in emb.modalities})
    else:
        lazy = lazy_result(emb, emb.modalities, lazy)
        result = emb._derive(_transform(emb, method, strength, row_map, lazy), normalized=True)
    info: dict[str, Any] = {"method": method, "strength": strength, "a": pa, "b": pb}
    if report:
        info["before"] = gap_summary(emb, pa, pb)
        info["after"] = gap_summary(result, pa, pb)
    history = list(emb.provenance.get("mitigations", [])) + [
        {k: v for k, v in info.items() if k not in ("before", "after")}
    ]
    result.provenance["mitigation"] = info
    result.provenance["mitigations"] = history
    return result


def gap_report(
    embs: Mapping[str, Embeddings] | Embeddings,
    a: str | None = None,
    b: str | None = None,
    *,
    recall: bool = True,
) -> pd.DataFrame:
    """A table of :func:`amumo.gap_summary` for several embeddings, one column each.

    Parameters
    ----------
    embs : Embeddings or dict of str to Embeddings
        E.g. ``{"before": emb, "center": am.mitigate(emb, "center")}``. A single
        Embeddings made by :func:`mitigate` gives its stored before / after.
    a, b : str, optional
    recall : bool, default True
        Include recall@1 both ways (O(N²); the rest is O(N·D)).

    Returns
    -------
    DataFrame indexed by metric (``gap_distance``, ``rmg``, ``l2i``,
    ``centroid_cosine``, ``paired_cosine``, ``recall@1:...``).

    Examples
    --------
    >>> import amumo as am
    >>> emb = am.datasets.clip_coco500()
    >>> table = am.gap_report(am.mitigate(emb, "shift", 1.0))
    >>> list(table.columns), bool(table.loc["gap_distance", "after"] < 0.1)
    (['before', 'after'], True)
    """
    if isinstance(embs, Embeddings):
        info = embs.provenance.get("mitigation", {})
        if "before" not in info:
            embs = {"embeddings": embs}
        else:
            table = pd.DataFrame({"before": info["before"], "after": info["after"]})
            return table if recall else table.loc[~table.index.str.startswith("recall")]
    if not isinstance(embs, Mapping) or not embs:
        raise TypeError("embs must be an Embeddings or a non-empty dict of name -> Embeddings.")
    columns = {}
    for name, value in embs.items():
        check_embeddings(value, f"embs[{name!r}]")
        columns[str(name)] = gap_summary(value, a, b, recall=recall)
    return pd.DataFrame(columns)
