"""Heatmap: the ``(M·N)²`` cosine-similarity matrix of all items, in modality blocks.

Amumo (Humer et al., 2023) reads the modality gap off this matrix: for CLIP the
image–image and text–text quadrants are far brighter than image–text. For large
``N`` the browser receives a pooled overview (block means, at most
``max_overview``² cells) and asks for exact cells of the zoomed window.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from amumo.analysis.cluster_names import cluster_names
from amumo.analysis.similarity import CLUSTER_METHODS, cluster_medoids, cluster_pairs
from amumo.embeddings.container import Embeddings
from amumo.widgets._base import STATIC, SYNC_LIMIT, AmumoWidget, one_blas_thread, request
from amumo.widgets._encode import f32_bytes
from amumo.widgets._items import ItemsMixin, check_embeddings_arg
from amumo.widgets._matrix import auto_scale, display_rows, pooled, quantise, window
from amumo.widgets._traits import Int32Array, Uint8Array

__all__ = ["Heatmap", "HeatmapMixin", "COLORMAPS", "pair_clusters"]

COLORMAPS = ("viridis", "magma", "cividis", "rdbu", "greys")
#: Captions per cluster (a seeded sample of larger clusters) that name it (c-TF-IDF).
NAMED_CAPTIONS = 2000
#: Above this many shown pairs, cluster names read only the captions they are made from
#: (NAMED_CAPTIONS seeded per cluster) instead of every caption (ten million strings).
SAMPLED_NAMES_ABOVE = 200_000
#: Largest window (cells per side) the browser may ask for at once.
MAX_WINDOW = 1024


def pair_clusters(
    emb: Embeddings, method: str, k: int, by: str = "all"
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster pairs on the mean of their per-modality cosine similarities.

    A pair's feature is the concatenation of its unit rows divided by ``sqrt(M)``
    (a unit vector), so the similarity of two pairs is the mean over modalities of
    the similarity of their items; :func:`amumo.cluster_order` orders and cuts it.
    With ``by`` a modality, only that modality's similarities count (Amumo clusters
    ImageBind pairs by text, then by audio-to-audio similarity). Every modality
    block of the heatmap is then permuted by the same order, which keeps each pair
    on the diagonal of the cross-modal quadrants.
    """
    if by != "all":
        emb.check_modality(by, "cluster_by")
    # Hierarchical (N x N) up to HIERARCHICAL_LIMIT pairs, k-means in O(N·D) above (issue 11).
    return cluster_pairs(emb, k=min(int(k), len(emb)), method=method, by=by)


class ClusterTraits(traitlets.HasTraits):
    cluster = traitlets.Bool(
        False, help="Reorder pairs by hierarchical clustering and draw cluster boundaries."
    ).tag(sync=True)
    cluster_method = traitlets.Unicode(
        "ward",
        help=f"Linkage method, one of {CLUSTER_METHODS}. Ward (default) gives balanced blocks; "
        "average/single/centroid put most CLIP pairs in one cluster (one giant block).",
    ).tag(sync=True)
    cluster_methods = traitlets.List(
        traitlets.Unicode(), default_value=list(CLUSTER_METHODS), help="Offered linkage methods."
    ).tag(sync=True)
    cluster_k = traitlets.Int(6, help="Number of clusters cut from the tree (>= 1).").tag(
        sync=True
    )
    cluster_status = traitlets.Unicode("", help="'clustering…' while it runs.").tag(sync=True)
    cluster_by = traitlets.Unicode(
        "all", help="Cluster on the similarities of one modality (e.g. 'text') or 'all'."
    ).tag(sync=True)
    cluster_legend = traitlets.List(
        traitlets.Unicode(),
        help="Name of each cluster (its captions' most distinctive words, c-TF-IDF; read-only).",
    ).tag(sync=True)
    cluster_portraits = traitlets.List(
        traitlets.Dict(),
        help="Each cluster's portrait: {'pair': id of its medoid pair (highest mean cosine to "
        "the cluster, amumo.analysis.similarity.cluster_medoids), 'modality', 'kind' "
        "('image' or 'audio')}, fetched lazily by the browser; [] when the clustered "
        "modality has no images or sounds to show (read-only).",
    ).tag(sync=True)
    _outputs = ("cluster_methods", "cluster_status", "cluster_legend", "cluster_portraits")

    @traitlets.validate("cluster_by")
    def _valid_cluster_by(self, proposal: dict) -> str:
        value = proposal["value"]
        base = getattr(self, "_base", None)
        options = ("all", *base.modalities) if base is not None else ("all",)
        if value not in options and (base is not None or value == ""):
            raise traitlets.TraitError(f"cluster_by={value!r} is unknown; choose one of {options}.")
        return value

    @traitlets.observe("cluster_by")
    def _on_cluster_by(self, _change: dict) -> None:
        if getattr(self, "_ready", False):
            self._recluster()

    @property
    def cluster_labels(self) -> np.ndarray | None:
        """Cluster of each shown pair (0..k-1), or None when clustering is off."""
        labels = getattr(self, "_cluster_labels", None)
        return None if labels is None else labels.copy()

    @property
    def cluster_names(self) -> list[str] | None:
        """Name of each cluster (index = cluster id of :attr:`cluster_labels`), or None.

        The 3 most distinctive words of the cluster's captions by class-based TF-IDF
        (:func:`amumo.cluster_names`); ``"cluster i"`` when there are no captions.
        """
        return None if getattr(self, "_cluster_labels", None) is None else list(
            self.cluster_legend
        )

    def _named_legend(self, legend: dict) -> dict:
        """Scatter legend of ``color_by='cluster'`` with the cluster names."""
        names = list(self.cluster_legend)
        portraits = list(self.cluster_portraits)
        items = [
            {**item, "label": f"{k + 1} · {names[k]}" if k < len(names) else item["label"],
             **({"portrait": portraits[k]} if k < len(portraits) and portraits[k] else {})}
            for k, item in enumerate(legend.get("items", []))
        ]
        return {**legend, "items": items}

    def _portrait_modality(self, by: str) -> tuple[str, str] | None:
        """(modality, kind) whose items portray the clusters of ``cluster_by=by``: that
        modality when it has images or sounds to show; for "all", the first with images."""
        media = self._media_now() if hasattr(self, "_media_now") else {}
        kinds = getattr(self, "_kinds", {})
        if by != "all":
            kind = kinds.get(by)
            return (by, kind) if media.get(by) and kind in ("image", "audio") else None
        for modality, kind in kinds.items():
            if media.get(modality) and kind == "image":
                return modality, kind
        return None

    @traitlets.validate("cluster_method")
    def _valid_method(self, proposal: dict) -> str:
        if proposal["value"] not in CLUSTER_METHODS:
            raise traitlets.TraitError(
                f"cluster_method={proposal['value']!r} is unknown; choose one of {CLUSTER_METHODS}."
            )
        return proposal["value"]

    @traitlets.validate("cluster_k")
    def _valid_k(self, proposal: dict) -> int:
        if proposal["value"] < 1:
            raise traitlets.TraitError(f"cluster_k={proposal['value']} must be at least 1.")
        return proposal["value"]

    def _cluster_labels_wanted(self) -> bool:
        return bool(self.cluster)

    def _recluster(self) -> None:
        """(Re)compute order and labels of ``self._base`` when clustering is wanted."""
        self._cluster_order = None
        if not self._cluster_labels_wanted():
            self._cluster_labels = None
            self.cluster_legend = []
            self.cluster_portraits = []
            self._clusters_changed()
            return
        base = self._base
        compute = self._cluster_compute()

        def done(result: tuple[np.ndarray, np.ndarray, list[str], list[dict]]) -> None:
            order, labels, names, portraits = result
            self._cluster_order = order if self.cluster else None
            self._cluster_labels = labels
            with self.hold_sync():
                self.cluster_legend = names
                self.cluster_portraits = portraits
                self._clusters_changed()

        def fail(err: BaseException) -> None:
            self.error = f"clustering failed: {err}"

        self._run_job(
            "cluster",
            compute,
            done,
            status=("cluster_status", "clustering…"),
            background=len(base) > SYNC_LIMIT,
            error=fail,
        )

    def _cluster_compute(self) -> Any:
        """A function of no arguments that clusters ``self._base`` as the traits say now
        (``cluster_by``, method, k), names the clusters from the shown pairs' captions and
        finds each one's portrait (its medoid pair, when the clustered modality has images
        or sounds): it returns ``(order, labels, names, portraits)``; run it in a
        background job."""
        base, method, k = self._base, self.cluster_method, self.cluster_k
        by = self.cluster_by if self.cluster_by in base.modalities else "all"
        ids = np.asarray(getattr(self, "_ids", np.arange(len(base))))
        seed = getattr(self, "seed", 0)
        has_texts = hasattr(self, "_pair_texts")
        # every caption up to SAMPLED_NAMES_ABOVE pairs; above, only those that name
        texts = self._pair_texts(ids) if has_texts and len(ids) <= SAMPLED_NAMES_ABOVE else []
        portrait = self._portrait_modality(by)

        def compute() -> tuple[np.ndarray, np.ndarray, list[str], list[dict]]:
            order, labels = pair_clusters(base, method, k, by)
            if has_texts and len(ids) > SAMPLED_NAMES_ABOVE:
                rng = np.random.default_rng(seed)
                picked = np.sort(np.concatenate([
                    rng.choice(members, size=min(len(members), NAMED_CAPTIONS), replace=False)
                    for members in (np.flatnonzero(labels == c) for c in np.unique(labels))
                ]))
                some = self._pair_texts(ids[picked])
                names = cluster_names(some, labels[picked], max_per_cluster=NAMED_CAPTIONS) \
                    if any(some) else []
            else:
                names = (
                    cluster_names(texts, labels, max_per_cluster=NAMED_CAPTIONS) if any(texts)
                    else []
                )
            count = int(labels.max()) + 1
            names = [names[c] if c < len(names) and names[c] else f"cluster {c + 1}"
                     for c in range(count)]
            portraits: list[dict] = []
            if portrait is not None:
                medoids = cluster_medoids(base, labels, by)
                portraits = [
                    {"pair": int(ids[p]), "modality": portrait[0], "kind": portrait[1]}
                    if p >= 0 else {} for p in medoids
                ]
            return order, labels, names, portraits

        return compute

    def _clusters_changed(self) -> None:  # overridden by views that use clusters
        pass


class ColourTraits(traitlets.HasTraits):
    """Colour map and overview size of similarity heatmaps (Heatmap, Comparer)."""

    max_overview = traitlets.Int(
        1024,
        help="Largest overview side sent to the browser (16..2048); larger matrices are pooled.",
    ).tag(sync=True)
    colormap = traitlets.Unicode("viridis", help=f"One of {COLORMAPS}.").tag(sync=True)

    @traitlets.validate("max_overview")
    def _valid_max_overview(self, proposal: dict) -> int:
        value = int(proposal["value"])
        if not 16 <= value <= 2048:
            raise traitlets.TraitError(f"max_overview={value} must be between 16 and 2048.")
        return value

    @traitlets.validate("colormap")
    def _valid_colormap(self, proposal: dict) -> str:
        if proposal["value"] not in COLORMAPS:
            raise traitlets.TraitError(
                f"colormap={proposal['value']!r} is unknown; choose one of {COLORMAPS}."
            )
        return proposal["value"]


class HeatmapMixin(ClusterTraits, ColourTraits):
    """Traits and kernel-side handlers of the similarity heatmap."""

    overview = Uint8Array(
        help="uint8 colour codes of the overview, overview_size² cells (row-major)."
    ).tag(sync=True)
    overview_size = traitlets.Int(0, help="Side of the overview in cells (read-only).").tag(
        sync=True
    )
    scale = traitlets.List(
        traitlets.Float(), default_value=[0.0, 1.0], help="Colour range [low, high] in use."
    ).tag(sync=True)
    vmin = traitlets.Float(
        None, allow_none=True, help="Colour range low end in [-1, 1) (None: from the data)."
    ).tag(sync=True)
    vmax = traitlets.Float(
        None, allow_none=True, help="Colour range high end in (-1, 1] (None: 1)."
    ).tag(sync=True)
    scale_locked = traitlets.Bool(
        False,
        help="Keep the automatic colour range fixed while λ, close-the-gap, the filter or the "
        "model change (off: the range follows the shown data).",
    ).tag(sync=True)
    order = Int32Array(
        help="int32 pair order shared by every modality block; empty = pair order."
    ).tag(sync=True)
    cluster_bounds = Int32Array(
        help="int32 positions (in the order) where a new cluster starts."
    ).tag(sync=True)

    _outputs = ("overview", "overview_size", "scale", "order", "cluster_bounds")

    @traitlets.validate("vmin", "vmax")
    def _valid_range_end(self, proposal: dict) -> float | None:
        name, value = proposal["trait"].name, proposal["value"]
        if value is None:
            return None
        value = float(value)
        low_ok = -1.0 <= value < 1.0 if name == "vmin" else -1.0 < value <= 1.0
        if not (np.isfinite(value) and low_ok):
            span = "[-1, 1)" if name == "vmin" else "(-1, 1]"
            raise traitlets.TraitError(
                f"{name}={value} is outside {span}: cosine similarity lies in [-1, 1]; pass a "
                f"value in {span} or None for the automatic range."
            )
        other = self.vmax if name == "vmin" else self.vmin
        if other is not None and (value >= other if name == "vmin" else value <= other):
            raise traitlets.TraitError(
                f"{name}={value} must be {'below vmax' if name == 'vmin' else 'above vmin'}"
                f"={other}; change the other end first (or set it to None)."
            )
        return value

    def _init_heatmap(self) -> None:
        self._cluster_order: np.ndarray | None = None
        self._cluster_labels: np.ndarray | None = None
        self._rows: np.ndarray | None = None

    @one_blas_thread
    def _update_heatmap(self) -> None:
        """Recompute the overview of ``self._emb`` in the current order and send it."""
        streaming = getattr(self, "_streaming", None)
        if streaming is not None and streaming():  # more pairs than memory: one pass
            if not self._requantise_overview():
                self._stream_views(coords=False)
            return
        rows = display_rows(self._emb, self._cluster_order)
        self._rows = rows
        over = pooled(rows, self.max_overview)
        self._send_overview(over, rows)

    def _send_overview(self, over: np.ndarray, rows: Any) -> None:
        """Colour range, quantised overview, order and cluster boundaries to the browser."""
        auto_lo, auto_hi = self._auto_range(over, rows)
        lo = float(self.vmin) if self.vmin is not None else auto_lo
        hi = float(self.vmax) if self.vmax is not None else auto_hi
        if not hi > lo:  # one end set by the user, the other automatic: keep a valid range
            if self.vmin is None:
                lo = max(-1.0, hi - 0.05)
            else:
                hi = min(1.0, lo + 0.05)
        bounds: Any = b""
        if self._cluster_order is not None and self._cluster_labels is not None:
            ordered = self._cluster_labels[self._cluster_order]
            bounds = np.flatnonzero(np.diff(ordered)) + 1
        with self.hold_sync():
            self.scale = [lo, hi]
            self.overview_size = over.shape[0]
            self.overview = quantise(over, lo, hi)
            self.order = b"" if self._cluster_order is None else self._cluster_order
            self.cluster_bounds = bounds

    def _auto_range(self, over: np.ndarray, rows: np.ndarray) -> tuple[float, float]:
        """Automatic colour range of the shown data (:func:`auto_scale`), so that widening
        the gap (λ < 0) does not saturate the cross-modal quadrants; while
        ``scale_locked``, the range in use when the lock was set."""
        locked = getattr(self, "_locked_range", None)
        if self.scale_locked and locked is not None:
            return locked
        cached = getattr(self, "_range_cache", None)
        if cached is not None and cached[0] is self._emb and cached[1] == self.max_overview:
            result = cached[2]
        else:
            result = auto_scale(over, rows)
            self._range_cache = (self._emb, self.max_overview, result)
        if self.scale_locked:
            self._locked_range = result
        return result

    def _clusters_changed(self) -> None:
        if getattr(self, "_ready", False):
            self._update_heatmap()

    @traitlets.observe("cluster", "cluster_method", "cluster_k")
    def _on_cluster_traits(self, _change: dict) -> None:
        if getattr(self, "_ready", False):
            self._recluster()

    @traitlets.observe("max_overview", "vmin", "vmax")
    def _on_scale_traits(self, _change: dict) -> None:
        if getattr(self, "_ready", False):
            self._update_heatmap()

    @traitlets.observe("scale_locked")
    def _on_scale_lock(self, change: dict) -> None:
        # Locking keeps the automatic range now shown; unlocking follows the data again.
        self._locked_range = getattr(self, "_range_cache", (None, None, None))[2]
        if not change["new"] and getattr(self, "_ready", False):
            self._update_heatmap()

    # ------------------------------------------------------------------ requests
    def _heatmap_rows(self, content: dict[str, Any]) -> np.ndarray:
        if self._rows is None:
            raise RuntimeError("the heatmap has no data yet.")
        return self._rows

    @request("window")
    def _request_window(self, content: dict[str, Any]) -> tuple[dict, list]:
        rows = self._heatmap_rows(content)
        r0, r1, c0, c1 = (int(content[k]) for k in ("r0", "r1", "c0", "c1"))
        if r1 - r0 > MAX_WINDOW or c1 - c0 > MAX_WINDOW:
            raise ValueError(f"window larger than {MAX_WINDOW} cells per side.")
        values = window(rows, r0, r1, c0, c1)
        return {"r0": r0, "r1": r1, "c0": c0, "c1": c1}, [f32_bytes(values)]

    @request("cell")
    def _request_cell(self, content: dict[str, Any]) -> tuple[dict, list]:
        rows = self._heatmap_rows(content)
        r, c = int(content["r"]), int(content["c"])
        n = rows.shape[0]
        if not (0 <= r < n and 0 <= c < n):
            raise ValueError(f"cell ({r}, {c}) is outside the {n} x {n} matrix.")
        value = 1.0 if r == c else float(np.clip(rows[r] @ rows[c], -1.0, 1.0))
        return {"value": value}, []

    # ------------------------------------------------------------------ python API
    def cell(self, row: tuple[str, int], col: tuple[str, int]) -> float:
        """Cosine similarity of item ``(modality, pair)`` ``row`` with item ``col``.

        Examples
        --------
        >>> import amumo as am
        >>> w = am.Heatmap(am.datasets.clip_coco500())
        >>> round(w.cell(("image", 0), ("image", 0)), 3)
        1.0
        """
        a = self._emb[self._emb.check_modality(row[0], "row")][self._view_pair(row[1])]
        b = self._emb[self._emb.check_modality(col[0], "col")][self._view_pair(col[1])]
        return float(np.clip(a @ b, -1.0, 1.0))

    def _view_pair(self, pair: int) -> int:
        hits = np.flatnonzero(self._ids == int(pair))
        if not len(hits):
            raise ValueError(f"pair {pair} is not shown (filtered out or out of range).")
        return int(hits[0])

    @property
    def cluster_labels(self) -> np.ndarray | None:
        """Cluster of each shown pair (0..k-1), or None when clustering is off."""
        return None if self._cluster_labels is None else self._cluster_labels.copy()


class Heatmap(HeatmapMixin, ItemsMixin, AmumoWidget):
    """The similarity matrix of all items of paired embeddings, on a canvas.

    Quadrant separators and labels (image–image, image–text, ...), a colour bar,
    hover crosshair with a tooltip (row/column item, modality, value), click to
    select pairs, wheel to zoom, drag to pan, double-click to reset, and a
    cluster toggle that reorders pairs by hierarchical clustering.

    Parameters
    ----------
    emb : Embeddings
    dataset : amumo.data dataset, optional
        Aligned with ``emb``; supplies captions for tooltips.
    text_column : str, optional
        Meta column shown as each pair's text (default: caption/text/label...).
    **traits
        Any trait below, e.g. ``cluster=True, cluster_k=8, colormap="magma"``.

    Traits
    ------
    cluster : bool, default False
    cluster_method : str, default "ward"
    cluster_k : int, default 6
    cluster_by : str, default "all"
        Cluster on one modality's similarities (e.g. ``"text"``, ``"audio"``) or all.
    cluster_labels, cluster_names : properties
        Cluster of each pair, and each cluster's name (its captions' most distinctive
        words, :func:`amumo.cluster_names`), drawn at the cluster boundaries.
    colormap : str, default "viridis"
    vmin, vmax : float or None, default None (low end from the shown data, 1.0)
    scale_locked : bool, default False
        Keep the automatic colour range while the data change (λ, close, filter).
    max_overview : int, default 1024
        Matrices with more items per side are pooled (block means) to this size.
    hovered : int, hovered_cell : dict, selected : list of int
        Synced from the browser (see :class:`amumo.Explorer`).

    Examples
    --------
    >>> import amumo as am
    >>> w = am.Heatmap(am.datasets.clip_coco500(), cluster=True, cluster_k=4)
    >>> w.overview_size
    1000
    """

    _esm = STATIC / "heatmap.js"
    _extra_kwargs = ("dataset", "text_column")
    title = traitlets.Unicode("Similarity", help="Panel title.").tag(sync=True)

    def __init__(
        self,
        emb: Embeddings,
        *,
        dataset: Any = None,
        text_column: str | None = None,
        **traits: Any,
    ) -> None:
        emb = check_embeddings_arg(emb)
        self._ready = False
        self._init_items(emb, dataset, text_column)
        self._init_heatmap()
        super().__init__(**traits)
        with self.hold_sync():
            self._set_items()
            self._ready = True
            self._update_heatmap()
        if self.cluster:
            self._recluster()
