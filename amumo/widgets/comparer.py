"""Comparer: similarity heatmaps of several models over the same pairs, hover linked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import traitlets

from amumo.embeddings.container import Embeddings
from amumo.widgets._base import STATIC, SYNC_LIMIT, AmumoWidget, one_blas_thread, request
from amumo.widgets._encode import f32_bytes
from amumo.widgets._items import ItemsMixin, check_embeddings_arg
from amumo.widgets._matrix import auto_scale, display_rows, pooled, quantise, window
from amumo.widgets._traits import Int32Array, Uint8Array
from amumo.widgets.heatmap import MAX_WINDOW, ClusterTraits, ColourTraits

__all__ = ["Comparer"]


class Comparer(ClusterTraits, ColourTraits, ItemsMixin, AmumoWidget):
    """Heatmaps of the same pairs under several models, side by side.

    Hovering a cell in one heatmap draws the crosshair at the same items in all of
    them and shows every model's value (linked in the browser). With ``cluster``
    on, all heatmaps use the order of the first model, so blocks line up.

    Parameters
    ----------
    models : dict of str to Embeddings
        Two or more embeddings of the same pairs (same N and modalities).
    dataset : amumo.data dataset, optional
    text_column : str, optional
    **traits
        ``cluster``, ``cluster_k``, ``colormap``, ``shared_scale``, ``max_overview``.

    Raises
    ------
    ValueError
        Fewer than one model, or models with different numbers of pairs or modalities.

    Examples
    --------
    >>> import amumo as am
    >>> c = am.Comparer({"CLIP": am.datasets.clip_coco500(),
    ...                  "random init": am.datasets.clip_coco500(random_init=True)})
    >>> c.names
    ['CLIP', 'random init']
    """

    _esm = STATIC / "comparer.js"
    _extra_kwargs = ("dataset", "text_column")
    _outputs = ("names", "overviews", "scales", "overview_size", "order", "cluster_bounds")

    names = traitlets.List(traitlets.Unicode(), help="Model names (read-only).").tag(sync=True)
    overviews = traitlets.List(
        Uint8Array(), help="uint8 overview of each model (overview_size² cells)."
    ).tag(sync=True)
    scales = traitlets.List(help="Colour range [low, high] of each model.").tag(sync=True)
    overview_size = traitlets.Int(0, help="Overview side in cells (read-only).").tag(sync=True)
    max_overview = traitlets.Int(
        512, help="Largest overview side per model (16..2048)."
    ).tag(sync=True)
    shared_scale = traitlets.Bool(True, help="One colour range for all models.").tag(sync=True)
    order = Int32Array(help="int32 shared pair order; empty = pair order.").tag(sync=True)
    cluster_bounds = Int32Array(help="int32 cluster starts in the order.").tag(sync=True)

    def __init__(
        self,
        models: Mapping[str, Embeddings],
        *,
        dataset: Any = None,
        text_column: str | None = None,
        **traits: Any,
    ) -> None:
        if not isinstance(models, Mapping):
            raise TypeError(
                f"models is a {type(models).__name__}; pass a dict such as "
                "{'CLIP': emb1, 'random init': emb2}."
            )
        if not models:
            raise ValueError("models is empty; pass at least one name -> Embeddings.")
        checked = {str(k): check_embeddings_arg(v, f"models[{k!r}]") for k, v in models.items()}
        first_name, first = next(iter(checked.items()))
        for name, emb in checked.items():
            if len(emb) != len(first):
                raise ValueError(
                    f"models[{name!r}] has {len(emb)} pairs but models[{first_name!r}] has "
                    f"{len(first)}; compare embeddings of the same pairs (use emb.subset)."
                )
            if emb.modalities != first.modalities:
                raise ValueError(
                    f"models[{name!r}] has modalities {emb.modalities} but "
                    f"models[{first_name!r}] has {first.modalities}; they must match in order."
                )
        self._ready = False
        self._models = checked
        self._rows_by_model: list[np.ndarray] = []
        self._cluster_order = None
        self._cluster_labels = None
        self._init_items(first, dataset, text_column)
        super().__init__(**traits)
        with self.hold_sync():
            self.names = list(checked)
            self._set_items()
            self._ready = True
            self._update()
        if self.cluster:
            self._recluster()

    def _recluster(self) -> None:
        """Cluster on the first model; every heatmap uses its order."""
        if not self.cluster:
            self._cluster_order = self._cluster_labels = None
            self.cluster_legend = []
            self.cluster_portraits = []
            self._update()
            return
        base, compute = self._base, self._cluster_compute()  # cluster_by, named clusters

        def done(result: tuple[np.ndarray, np.ndarray, list[str], list[dict]]) -> None:
            self._cluster_order, self._cluster_labels, self.cluster_legend = result[:3]
            self.cluster_portraits = result[3]
            self._update()

        def fail(err: BaseException) -> None:
            self.error = f"clustering failed: {err}"

        self._run_job(
            "cluster", compute, done,
            status=("cluster_status", "clustering…"), background=len(base) > SYNC_LIMIT,
            error=fail,
        )

    @one_blas_thread
    def _update(self) -> None:
        order = self._cluster_order
        self._rows_by_model = [display_rows(emb, order) for emb in self._models.values()]
        overs = [pooled(rows, self.max_overview) for rows in self._rows_by_model]
        ranges = [auto_scale(o, r) for o, r in zip(overs, self._rows_by_model, strict=True)]
        if self.shared_scale:
            lo = min(r[0] for r in ranges)
            ranges = [(lo, 1.0)] * len(ranges)
        bounds: Any = b""
        if order is not None and self._cluster_labels is not None:
            bounds = np.flatnonzero(np.diff(self._cluster_labels[order])) + 1
        with self.hold_sync():
            self.overview_size = overs[0].shape[0]
            self.scales = [list(r) for r in ranges]
            self.overviews = [
                quantise(o, lo, hi) for o, (lo, hi) in zip(overs, ranges, strict=True)
            ]
            self.order = b"" if order is None else order
            self.cluster_bounds = bounds

    @traitlets.observe("cluster", "cluster_method", "cluster_k")
    def _on_cluster_traits(self, _change: dict) -> None:
        if self._ready:
            self._recluster()

    @traitlets.observe("max_overview", "shared_scale")
    def _on_overview_traits(self, _change: dict) -> None:
        if self._ready:
            self._update()

    def _rows_for(self, content: dict[str, Any]) -> np.ndarray:
        k = int(content.get("view", 0))
        if not 0 <= k < len(self._rows_by_model):
            raise ValueError(f"view {k} does not exist.")
        return self._rows_by_model[k]

    @request("window")
    def _request_window(self, content: dict[str, Any]) -> tuple[dict, list]:
        rows = self._rows_for(content)
        r0, r1, c0, c1 = (int(content[k]) for k in ("r0", "r1", "c0", "c1"))
        if r1 - r0 > MAX_WINDOW or c1 - c0 > MAX_WINDOW:
            raise ValueError(f"window larger than {MAX_WINDOW} cells per side.")
        return {"r0": r0, "r1": r1, "c0": c0, "c1": c1}, [f32_bytes(window(rows, r0, r1, c0, c1))]

    @request("cell")
    def _request_cell(self, content: dict[str, Any]) -> tuple[dict, list]:
        rows = self._rows_for(content)
        r, c = int(content["r"]), int(content["c"])
        n = rows.shape[0]
        if not (0 <= r < n and 0 <= c < n):
            raise ValueError(f"cell ({r}, {c}) is outside the {n} x {n} matrix.")
        return {"value": 1.0 if r == c else float(np.clip(rows[r] @ rows[c], -1, 1))}, []
