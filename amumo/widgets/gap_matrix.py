"""GapMatrix: the gap between every pair of modalities as a coloured M × M table."""

from __future__ import annotations

from typing import Any

import pandas as pd
import traitlets

from amumo.analysis.gap_matrix import GAP_MATRIX_METRICS, gap_matrix
from amumo.embeddings.container import Embeddings
from amumo.widgets._base import STATIC, AmumoWidget
from amumo.widgets._items import check_embeddings_arg

__all__ = ["GapMatrix"]


class GapMatrix(AmumoWidget):
    """The M × M table of :func:`amumo.gap_matrix`, shaded by value, with a metric picker.

    Off-diagonal cells are shaded from light blue (the smallest gap in the table) to
    dark blue (the largest), so close values stay distinguishable; hovering shows the
    exact value, clicking a cell sets :attr:`picked` (link it to an Explorer's ``gap_pair`` with
    ``traitlets.dlink((gm, "picked"), (ex, "gap_pair"))``).

    Parameters
    ----------
    emb : Embeddings
        Two or more modalities (ImageBind: image, text, audio; CLOOME: images, molecules).
    **traits
        ``metric="rmg"``, ``title="..."``.

    Traits
    ------
    metric : {"gap_distance", "rmg"}, default "gap_distance"
    values : list of list of float (read-only)
        The table, rows and columns in :attr:`modalities` order.
    picked : list of str
        The last clicked pair ``[a, b]`` (``[]`` before any click).

    Examples
    --------
    >>> import amumo as am
    >>> gm = am.GapMatrix(am.datasets.clip_coco500())
    >>> gm.modalities, [round(v, 4) for v in gm.values[0]]
    (['image', 'text'], [0.0, 0.8514])
    >>> gm.frame().shape
    (2, 2)
    """

    _esm = STATIC / "gap_matrix.js"
    _outputs = ("modalities", "values", "metrics")

    title = traitlets.Unicode("Modality gaps", help="Panel title.").tag(sync=True)
    metric = traitlets.Unicode("gap_distance", help=f"One of {GAP_MATRIX_METRICS}.").tag(
        sync=True
    )
    metrics = traitlets.List(
        traitlets.Unicode(), default_value=list(GAP_MATRIX_METRICS), help="Offered metrics."
    ).tag(sync=True)
    modalities = traitlets.List(traitlets.Unicode(), help="Row/column names (read-only).").tag(
        sync=True
    )
    values = traitlets.List(traitlets.List(traitlets.Float()), help="The table (read-only).").tag(
        sync=True
    )
    picked = traitlets.List(traitlets.Unicode(), help="Last clicked pair [a, b].").tag(sync=True)

    def __init__(self, emb: Embeddings, **traits: Any) -> None:
        self._emb = check_embeddings_arg(emb)
        super().__init__(**traits)
        self._update()

    @traitlets.validate("metric")
    def _valid_metric(self, proposal: dict) -> str:
        if proposal["value"] not in GAP_MATRIX_METRICS:
            raise traitlets.TraitError(
                f"metric={proposal['value']!r} is unknown; choose one of {GAP_MATRIX_METRICS}."
            )
        return proposal["value"]

    @traitlets.observe("metric")
    def _on_metric(self, _change: dict) -> None:
        if hasattr(self, "_frame"):
            self._update()

    def _update(self) -> None:
        self._frame = gap_matrix(self._emb, self.metric)
        with self.hold_sync():
            self.modalities = [str(m) for m in self._frame.index]
            self.values = self._frame.to_numpy().tolist()

    def frame(self) -> pd.DataFrame:
        """The table shown, as a DataFrame (a copy)."""
        return self._frame.copy()
