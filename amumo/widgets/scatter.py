"""Scatter: a 2-D projection (PCA / UMAP / t-SNE) of every item with a line per pair."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import traitlets

from amumo.analysis.gap_axis import gap_axes, gap_axis_label, gap_projection, pca_hides_gap
from amumo.analysis.projection import PROJECTION_METHODS, project
from amumo.embeddings.container import Embeddings
from amumo.widgets._base import STATIC, AmumoWidget, blas_threads, one_blas_thread, request
from amumo.widgets._encode import color_codes, color_options, colorable
from amumo.widgets._items import ItemsMixin, check_embeddings_arg
from amumo.widgets._traits import Float32Array, Int32Array, Uint8Array
from amumo.widgets.heatmap import ClusterTraits

__all__ = ["Scatter", "ScatterMixin"]

#: PCA components offered in the x/y pickers (at most).
PCA_COMPONENTS = 6
_PREFIX = {"pca": "PC", "gap": "gap", "umap": "UMAP", "tsne": "t-SNE"}
#: Seconds between two updates of the busy sign while UMAP / t-SNE report progress.
STATUS_INTERVAL = 0.25


class _ProjectionStatus:
    """Writes a running UMAP / t-SNE's progress into ``projection_status`` (the scatter's
    busy sign): what it does now (``describe``, e.g. the epoch) and the share done
    (``progress``), at most every :data:`STATUS_INTERVAL` seconds; once cancelled,
    nothing more is written (the sign has gone)."""

    def __init__(self, widget: Any, label: str) -> None:
        self.widget, self.label = widget, label
        self.detail, self.fraction = "", 0.0
        self.last = 0.0
        self.stopped = False

    def progress(self, fraction: float) -> None:
        self.fraction = float(fraction)
        self._show()

    def describe(self, text: str) -> None:
        self.detail = text
        self._show()

    def stop(self, cancelled: bool) -> bool:
        self.stopped = self.stopped or cancelled
        return self.stopped

    def text(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"computing {self.label}… {100 * self.fraction:.0f} %{detail}"

    def _show(self) -> None:
        now = time.monotonic()
        if self.stopped or now - self.last < STATUS_INTERVAL:
            return
        self.last = now
        self.widget.projection_status = self.text()


class ScatterMixin(ClusterTraits):
    """Traits and kernel-side logic of the projection scatter plot."""

    xy = Float32Array(columns=2, help="float32 (M·N, 2) screen-independent coordinates.").tag(
        sync=True
    )
    projection = traitlets.Unicode(
        "pca", help=f"Projection method, one of {PROJECTION_METHODS}."
    ).tag(sync=True)
    projections = traitlets.List(
        traitlets.Unicode(), default_value=list(PROJECTION_METHODS), help="Offered methods."
    ).tag(sync=True)
    x_component = traitlets.Int(0, help="Component on the x axis (0-based).").tag(sync=True)
    y_component = traitlets.Int(1, help="Component on the y axis (0-based).").tag(sync=True)
    n_components = traitlets.Int(2, help="Components available (read-only).").tag(sync=True)
    axis_prefix = traitlets.Unicode("PC", help="Axis name prefix (read-only).").tag(sync=True)
    axis_labels = traitlets.List(traitlets.Unicode(), default_value=["PC 1", "PC 2"]).tag(
        sync=True
    )
    fit_on = traitlets.Unicode(
        "all", help="Fit the projection on 'all' items or on one modality."
    ).tag(sync=True)
    seed = traitlets.Int(0, help="Seed of UMAP / t-SNE.").tag(sync=True)
    color_by = traitlets.Unicode(
        "modality", help="'modality', 'cluster' or a meta column."
    ).tag(sync=True)
    color_options = traitlets.List(traitlets.Unicode(), help="Offered colourings.").tag(sync=True)
    colors = Uint8Array(help="uint8 palette index of every item.").tag(sync=True)
    palette = traitlets.List(traitlets.Unicode(), help="CSS colours indexed by `colors`.").tag(
        sync=True
    )
    legend = traitlets.Dict(
        help="Legend: {'kind': 'categorical', 'items': [...]} or {'kind': 'continuous', ...}."
    ).tag(sync=True)
    max_points = traitlets.Int(
        4_000_000,
        help="Most points (items) sent to the browser; above, a seeded sample of pairs is "
        "drawn (scatter_pairs says which) while selections and metrics use all pairs.",
    ).tag(sync=True)
    scatter_pairs = Int32Array(
        help="int32 shown-pair indices drawn when sampled (max_points); empty = all."
    ).tag(sync=True)
    show_lines = traitlets.Bool(True, help="Draw a line between the items of each pair.").tag(
        sync=True
    )
    projection_status = traitlets.Unicode(
        "", help="While UMAP / t-SNE run: what they do and how far, e.g. 'computing UMAP… "
        "40 %: UMAP epoch 80 of 200 (4,000 points)'; '' when idle (read-only)."
    ).tag(sync=True)

    _outputs = (
        "xy", "scatter_pairs", "projections", "n_components", "axis_prefix", "axis_labels",
        "color_options", "colors", "palette", "legend", "projection_status",
    )

    @traitlets.validate("projection")
    def _valid_projection(self, proposal: dict) -> str:
        if proposal["value"] not in PROJECTION_METHODS:
            raise traitlets.TraitError(
                f"projection={proposal['value']!r} is unknown; choose one of {PROJECTION_METHODS}."
            )
        return proposal["value"]

    @traitlets.validate("x_component", "y_component")
    def _valid_component(self, proposal: dict) -> int:
        value = int(proposal["value"])
        if value < 0 or value >= PCA_COMPONENTS:
            raise traitlets.TraitError(
                f"{proposal['trait'].name}={value} must be between 0 and {PCA_COMPONENTS - 1}."
            )
        return value

    def _init_scatter(self) -> None:
        if getattr(self, "_projection_auto", False):
            with blas_threads():
                if pca_hides_gap(self._emb):
                    self.projection = "gap"  # PC 1-2 would show the modalities mixed
        self._coords: np.ndarray | None = None
        self._coords_method: str | None = None
        self._cluster_labels: np.ndarray | None = getattr(self, "_cluster_labels", None)
        self.color_options = color_options(self._shown_meta(), keep=[self.color_by])
        if self.color_by not in self.color_options:
            raise ValueError(
                f"color_by={self.color_by!r} is not available; choose one of {self.color_options}."
            )

    def _cluster_labels_wanted(self) -> bool:
        return bool(self.cluster) or self.color_by == "cluster"

    # ------------------------------------------------------------------ projection
    @one_blas_thread
    def _update_projection(self) -> None:
        """Project ``self._emb`` (PCA now; UMAP/t-SNE in a background thread)."""
        emb, method, seed, fit_on = self._emb, self.projection, self.seed, self.fit_on
        if method in ("pca", "gap"):
            self._cancel_job("projection")  # a UMAP / t-SNE still running is not wanted now
        streaming = getattr(self, "_streaming", None)
        if streaming is not None and streaming() and (method in ("pca", "gap")
                                                      or self._coords is None):
            self._stream_views(overview=False)  # frame on a sample, every row in one pass
            if method in ("pca", "gap"):
                return
        elif method == "gap" and self._set_gap_coords(emb):
            return
        if not (streaming is not None and streaming()) and (
                method in ("pca", "gap") or self._coords is None):
            # PCA is instant; it is also the placeholder while UMAP / t-SNE compute.
            k = min(PCA_COMPONENTS, emb.dim, len(emb) * len(emb.modalities))
            options: dict[str, Any] = {"solver": "auto"}  # project() picks the PCA solver
            # A shifted / mitigated view (Explorer) is drawn in the PCA frame of the pairs
            # before the shift, like the gap axis: the points move within one set of axes,
            # and a λ step or close-gap click only places rows (no refit, 14 s at 1M).
            reference = getattr(self, "_base", None)
            if reference is not None and len(reference) != len(emb):
                reference = None
            if reference is not None and reference is not emb:
                options = {**options, "reference": reference, "cache": False}
            coords = project(emb, "pca", fit_on=fit_on, n_components=k, seed=seed, **options)
            self._set_coords(coords, "pca", frame=reference)
            if method in ("pca", "gap"):
                return

        def done(coords: np.ndarray) -> None:
            if self._emb is emb and self.projection == method:
                self._set_coords(coords, method)

        def fail(err: BaseException) -> None:
            self.error = f"{method} failed: {err}"

        label = {"umap": "UMAP", "tsne": "t-SNE"}[method]
        reporter = _ProjectionStatus(self, label)

        def compute(cancelled: Callable[[], bool]) -> np.ndarray:
            return project(
                emb, method, fit_on="all" if method == "tsne" else fit_on, seed=seed,
                progress=reporter.progress, describe=reporter.describe,
                should_stop=lambda: reporter.stop(cancelled()),
            )

        self._run_job(
            "projection",
            compute,
            done,
            status=("projection_status", f"computing {label}…"),
            background=True,
            error=fail,
            cancellable=True,
        )

    def cancel_projection(self) -> bool:
        """Stop a UMAP / t-SNE that is still computing and go back to the projection shown
        meanwhile (PCA or the gap axis). Returns True when one was running.

        The fit stops before its next optimisation epoch (UMAP) or block of work; the
        front end asks for this with a ``{"type": "cancel_projection"}`` request.
        """
        if not self._cancel_job("projection"):
            return False
        shown = getattr(self, "_coords_method", None)
        if shown in ("pca", "gap") and self.projection not in ("pca", "gap"):
            self.projection = shown  # observed: redraws (cached) and clears nothing else
        return True

    @request("cancel_projection")
    def _request_cancel_projection(self, _content: dict) -> tuple[dict, list]:
        """Browser request ``{"type": "cancel_projection"}``."""
        return {"cancelled": self.cancel_projection()}, []

    def _set_coords(self, coords: np.ndarray, method: str, frame: object = None) -> None:
        """Show ``coords``; ``frame`` names the fitted frame they are in (PCA of ``_base``)."""
        old = self._coords
        # float32: what the browser draws; a float64 copy of 2M x 6 would be 96 MB.
        coords = np.array(coords, dtype=np.float32)
        signs = np.ones(coords.shape[1], dtype=np.float32)
        same_frame = (
            frame is not None and getattr(self, "_coords_frame", None) is frame
            and self._coords_method == method
        )
        if same_frame:
            # The same fitted axes: keep the orientation chosen when they were first shown.
            signs = self._coords_signs
        elif (
            old is not None and old.shape[0] == coords.shape[0] and self._coords_method == method
            and method != "gap"  # a fixed frame (fitted before any shift): signs are meaningful
        ):
            # Components have no sign: keep the orientation of the previous picture so a
            # slider step moves points instead of mirroring the plot.
            for j in range(min(old.shape[1], coords.shape[1])):
                if float(np.dot(old[:, j], coords[:, j].astype(np.float64))) < 0:
                    signs[j] = -1.0
        coords *= signs
        self._coords_frame, self._coords_signs = frame, signs
        self._coords = coords
        self._coords_method = method
        with self.hold_sync():
            self.n_components = coords.shape[1]
            self.axis_prefix = _PREFIX[method]
            if self.x_component >= coords.shape[1]:
                self.x_component = 0
            if self.y_component >= coords.shape[1]:
                self.y_component = min(1, coords.shape[1] - 1)
            self._send_xy()

    def _drawn_rows(self) -> np.ndarray | None:
        """Item rows (modality blocks) of the pairs the browser draws; None for all.

        Above ``max_points`` items a seeded sample of pairs is drawn (every modality of
        a sampled pair), so the browser never receives more points than it can draw;
        ``scatter_pairs`` tells it which. The kernel keeps computing on all pairs.
        """
        preview = getattr(self, "_preview", None)
        if preview is not None:  # a sample placed before the streamed pass placed every row
            self.scatter_pairs = preview[0]
            return preview[1]
        n, m = len(self._ids), len(self._base.modalities)
        if n * m <= self.max_points:
            if self.scatter_pairs:
                self.scatter_pairs = b""
            return None
        key = (n, m, self.max_points, self.seed)
        cached = getattr(self, "_drawn_cache", None)
        if cached is None or cached[0] != key:
            rng = np.random.default_rng(self.seed)
            pairs = np.sort(rng.choice(n, size=self.max_points // m, replace=False))
            rows = (np.arange(m)[:, None] * n + pairs[None, :]).ravel()
            self._drawn_cache = (key, pairs, rows)
        _, pairs, rows = self._drawn_cache
        self.scatter_pairs = pairs  # sent only when it changed (traitlets compares the bytes)
        return rows

    def _send_xy(self) -> None:
        if self._coords is None:
            return
        x, y = self.x_component, self.y_component
        prefix = _PREFIX.get(self._coords_method or "pca", "PC")
        with self.hold_sync():
            if self._coords_method == "gap":
                self.axis_labels = [gap_axis_label(x), gap_axis_label(y)]
            else:
                self.axis_labels = [f"{prefix} {x + 1}", f"{prefix} {y + 1}"]
            rows = self._drawn_rows()
            if rows is None or getattr(self, "_preview", None) is not None:
                xy = self._coords[:, [x, y]]  # every row, or the preview's own rows
            else:
                xy = self._coords[rows][:, [x, y]]
            self.xy = xy

    def _set_gap_coords(self, emb: Embeddings) -> bool:
        """Gap-axis coordinates in the frame of the unshifted pairs; False if there is no gap."""
        k = min(PCA_COMPONENTS, emb.dim)
        pair = getattr(self, "_gap_pair_now", None)  # Explorer: the picked pair of modalities
        a, b = pair() if pair is not None else (None, None)
        reference = getattr(self, "_base", emb)
        try:
            # The frame is fitted once per shown pairs (and pair); a λ step only projects.
            key = (id(reference), a, b, k)
            cached = getattr(self, "_gap_frame", None)
            if cached is None or cached[0] != key or cached[1] is not reference:
                cached = (key, reference, gap_axes(reference, a, b, k))
                self._gap_frame = cached
            coords = gap_projection(emb, a, b, n_components=k, frame=cached[2])
        except ValueError as err:
            self.error = f"gap axis unavailable ({err}); showing PCA."
            return False
        self._set_coords(coords, "gap")
        return True

    @traitlets.observe("x_component", "y_component")
    def _on_components(self, _change: dict) -> None:
        if getattr(self, "_ready", False):
            self._send_xy()

    @traitlets.validate("max_points")
    def _valid_max_points(self, proposal: dict) -> int:
        value = int(proposal["value"])
        if value < 100:
            raise traitlets.TraitError(
                f"max_points={value} is too small; the browser draws at least 100 points "
                "(default 4,000,000)."
            )
        return value

    @traitlets.observe("max_points")
    def _on_max_points(self, _change: dict) -> None:
        if getattr(self, "_ready", False):
            with self.hold_sync():
                self._send_xy()
                self._update_colors()

    @traitlets.observe("projection", "seed", "fit_on")
    def _on_projection(self, _change: dict) -> None:
        if getattr(self, "_ready", False):
            self._update_projection()

    # ------------------------------------------------------------------ colours
    def _update_colors(self) -> None:
        by = self.color_by
        if by == "cluster" and self._cluster_labels is None:
            self._recluster()  # calls _clusters_changed (and so this method) when labels exist
            if self._cluster_labels is not None:
                return
            by = "modality"  # until the background clustering finishes
        meta = self._shown_meta() if by not in ("modality", "cluster") else None
        codes, palette, legend = color_codes(
            by, self._base.modalities, len(self._ids), meta, self._cluster_labels
        )
        if by == "cluster":
            legend = self._named_legend(legend)  # "2 · toilet | bathroom | sink"
        rows = self._drawn_rows()
        self._all_codes = codes  # every item's code: zoomed-in views send theirs
        with self.hold_sync():
            self.colors = codes if rows is None else np.asarray(codes)[rows]
            self.palette = palette
            self.legend = legend

    @traitlets.validate("color_by")
    def _valid_color_by(self, proposal: dict) -> str:
        options, value = self.color_options, proposal["value"]
        if options and value not in options:
            # Any column that can colour may be chosen from Python (e.g. "pair"); the
            # picker offers only the readable ones (amumo.widgets._encode.color_options).
            meta = self._shown_meta()
            if not colorable(meta, value):
                raise traitlets.TraitError(
                    f"color_by={value!r} is not available; choose one of {options}."
                )
            self.color_options = [*options, value]
        return value

    @traitlets.observe("color_by")
    def _on_color_by(self, _change: dict) -> None:
        if getattr(self, "_ready", False):
            self._update_colors()


class Scatter(ScatterMixin, ItemsMixin, AmumoWidget):
    """2-D projection of every item, coloured by modality, with a line per pair.

    Hover shows the item; drag draws a box (shift-drag: lasso) that selects the
    pairs inside; ``selected`` and :meth:`selection` return them to Python.
    UMAP and t-SNE run in a background thread (the kernel stays responsive and
    the plot says "computing…"); results are cached by embeddings and parameters.

    Parameters
    ----------
    emb : Embeddings
    dataset : amumo.data dataset, optional
    text_column : str, optional
    **traits
        ``projection="umap"``, ``color_by="label"``, ``show_lines=False``, ...

    Traits
    ------
    projection : {"pca", "umap", "tsne"}, default "pca"
    x_component, y_component : int, default 0, 1
    color_by : str, default "modality"
        ``"modality"``, ``"cluster"`` (``cluster_k`` clusters of ``cluster_by``, the
        legend shows their names) or a meta column.
    show_lines : bool, default True
    selected : list of int
        Selected pair indices (debounced from the browser).

    Examples
    --------
    >>> import amumo as am
    >>> w = am.Scatter(am.datasets.clip_coco500(), color_by="pair")
    >>> len(w.xy) == 1000 * 2 * 4
    True
    """

    _esm = STATIC / "scatter.js"
    _extra_kwargs = ("dataset", "text_column")
    title = traitlets.Unicode("Projection", help="Panel title.").tag(sync=True)

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
        self._projection_auto = "projection" not in traits  # gap axis where PCA hides the gap
        self._init_items(emb, dataset, text_column)
        self._cluster_labels = None
        self._cluster_order = None
        super().__init__(**traits)
        self._init_scatter()
        with self.hold_sync():
            self._set_items()
            self._ready = True
            self._update_projection()
            self._update_colors()

    def _clusters_changed(self) -> None:
        if getattr(self, "_ready", False):
            self._update_colors()
