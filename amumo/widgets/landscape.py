"""Landscape: contrastive loss as a function of the gap shift λ, one curve per temperature.

Unlike the other views it is not an :class:`~amumo.widgets._base.AmumoWidget` with a front
end in ``js/``: it has no JavaScript of its own to move there. It composes plotly's
``FigureWidget`` (zoom, hover read-out, legend toggles, image export come with it) in an
``ipywidgets.VBox``, takes no custom messages and sends no arrays of ours, and its
``save_html`` writes plotly's own offline page. Making it an AmumoWidget would mean writing
a new plotting front end, not moving one.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ipywidgets
import numpy as np
import traitlets

from amumo.analysis.losses import LOSSES, loss_landscape
from amumo.embeddings.container import Embeddings
from amumo.embeddings.io import atomic_write_bytes
from amumo.widgets._encode import CATEGORY_COLORS
from amumo.widgets._items import check_embeddings_arg
from amumo.widgets.export import HTMLExportMixin

__all__ = ["Landscape"]

_LOSS_NAMES = {"info_nce": "InfoNCE loss", "cyclip": "CyCLIP loss", "info_loob": "InfoLOOB loss",
               "siglip": "SigLIP loss"}


class Landscape(HTMLExportMixin, ipywidgets.VBox):
    """Loss vs gap shift (Liang et al. 2022, Fig. 4) as a plotly figure, current λ marked.

    At low temperature the loss is lowest near the original gap (λ = 0): the
    contrastive objective itself keeps the gap. ``lam`` moves the marker; link it
    to an :class:`Explorer` with ``traitlets.link((explorer, "lam"), (land, "lam"))``.

    Parameters
    ----------
    emb : Embeddings
    temperatures : sequence of float, default (0.01, 0.05, 0.1, 1.0)
    lams : sequence of float, default 31 values in [-1, 1.5]
    loss : str, default "info_nce"
        One of ``amumo.losses.LOSSES``.
    lam : float, default 0.0

    Examples
    --------
    >>> import amumo as am
    >>> land = am.Landscape(am.datasets.clip_coco500(), temperatures=[0.01, 0.1])
    >>> land.values.shape
    (2, 31)
    """

    lam = traitlets.Float(0.0, help="Current gap shift, marked on the curves.")
    temperatures = traitlets.List(traitlets.Float(), help="Temperatures (read-only).")
    lams = traitlets.List(traitlets.Float(), help="Shift values of the curves (read-only).")
    loss = traitlets.Unicode("info_nce", help="Loss name (read-only).")

    def __init__(
        self,
        emb: Embeddings,
        temperatures: Sequence[float] = (0.01, 0.05, 0.1, 1.0),
        *,
        lams: Sequence[float] | None = None,
        loss: str = "info_nce",
        lam: float = 0.0,
        **kwargs: Any,
    ) -> None:
        import plotly.graph_objects as go

        unknown = set(kwargs) - {"layout"}
        if unknown:
            raise TypeError(
                f"Landscape() got unexpected keyword argument(s) {sorted(unknown)}; valid: "
                "temperatures, lams, loss, lam."
            )
        emb = check_embeddings_arg(emb)
        if loss not in LOSSES:
            raise ValueError(f"loss={loss!r} is unknown; choose one of {sorted(LOSSES)}.")
        temps = [float(t) for t in np.atleast_1d(np.asarray(temperatures, dtype=float))]
        if not temps:
            raise ValueError("temperatures is empty; pass e.g. [0.01, 0.1, 1.0].")
        grid = np.linspace(-1.0, 1.5, 31) if lams is None else np.asarray(lams, dtype=float)
        if grid.ndim != 1 or len(grid) < 2:
            raise ValueError("lams must be a 1-D sequence of at least 2 shift values.")
        grid = np.sort(grid)
        self.values = loss_landscape(emb, grid, temps, loss=loss)
        self.figure = go.FigureWidget()
        for k, t in enumerate(temps):
            self.figure.add_scatter(
                x=grid, y=self.values[k], mode="lines", name=f"τ = {t:g}",
                line={"color": CATEGORY_COLORS[k % len(CATEGORY_COLORS)], "width": 2},
            )
        self.figure.add_scatter(
            x=[], y=[], mode="markers", name="current λ", showlegend=False,
            marker={"size": 10, "color": "#e11d48", "line": {"color": "white", "width": 1.5}},
        )
        self.figure.update_layout(
            template="plotly_white", height=340, margin={"l": 60, "r": 20, "t": 40, "b": 50},
            title={"text": f"{_LOSS_NAMES.get(loss, loss)} vs gap shift", "x": 0.02,
                   "font": {"size": 14}},
            xaxis_title="gap shift λ (0 = original, 1 ≈ closed)", yaxis_title="loss",
            legend={"orientation": "h", "y": -0.25},
        )
        super().__init__([self.figure], **kwargs)
        self.add_class("amumo-landscape")
        self.temperatures = temps
        self.lams = [float(x) for x in grid]
        self.loss = loss
        self.lam = float(lam)
        self._mark()

    def save_html(self, path: str | os.PathLike[str], title: str | None = None) -> Path:
        """Write the curves as a standalone, offline HTML page (plotly.js inlined).

        A plotly ``FigureWidget`` keeps its traces in the kernel, so instead of the
        widget-state export used by the other views, the current figure (with the λ
        marker) is written as a static interactive plotly page.

        Examples
        --------
        >>> import tempfile, pathlib, amumo as am
        >>> land = am.Landscape(am.datasets.clip_coco500(), temperatures=[0.01])
        >>> land.save_html(pathlib.Path(tempfile.mkdtemp()) / "landscape.html").suffix
        '.html'
        """
        import plotly.graph_objects as go

        page = go.Figure(self.figure).to_html(
            include_plotlyjs=True, full_html=True, div_id="amumo-landscape"
        )
        heading = html.escape(title or "amumo landscape")
        page = page.replace("<head>", f"<head><title>{heading}</title>", 1)
        return atomic_write_bytes(Path(path), page.encode("utf-8"))

    @traitlets.observe("lam")
    def _on_lam(self, _change: dict) -> None:
        if hasattr(self, "figure"):
            self._mark()

    def _mark(self) -> None:
        grid = np.asarray(self.lams)
        lam = float(self.lam)
        ys = [float(np.interp(lam, grid, row)) for row in self.values]
        with self.figure.batch_update():
            self.figure.data[-1].x = [lam] * len(ys)
            self.figure.data[-1].y = ys
            self.figure.layout.shapes = [{
                "type": "line", "x0": lam, "x1": lam, "yref": "paper", "y0": 0, "y1": 1,
                "line": {"color": "#e11d48", "width": 1.5, "dash": "dot"},
            }]
