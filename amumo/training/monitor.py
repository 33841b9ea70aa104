"""TrainingMonitor: a widget that redraws loss, gap and the probe scatter after every epoch.

Pass it as ``callback`` to :func:`~amumo.training.train_contrastive` (or to
:func:`~amumo.training.temperature_sweep`, which then gets one line per run).
The kernel is busy while training, but widget updates travel to the browser
as they happen, so the plots move while the cell runs and the cell's output
is not blocked.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import numpy as np

from amumo.analysis.projection import project

__all__ = ["TrainingMonitor"]

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")
_MODALITY_COLOURS = {"image": "#1f77b4", "text": "#ff7f0e"}


def _run_label(history: Any) -> str:
    s = history.settings
    return f"τ={s['temperature']:g}, seed {s['seed']}"


#: Line style of each modality's cone cosine (legend keys name them).
_CONE_DASH = {"image": "dot", "text": "dashdot"}


class TrainingMonitor(widgets.VBox):
    """Live view of a training run: loss and gap curves plus the probe embeddings.

    Parameters
    ----------
    scatter : bool, default True
        Draw the probe set's embeddings (PCA of both modalities, a grey line
        joining each pair) for the latest epoch.
    pair_lines : bool, default True
        Join each image to its caption in the scatter.
    height : int, default 360
        Figure height in pixels.

    Attributes
    ----------
    figure : plotly.graph_objects.FigureWidget
        Three panels: training loss, gap distance (with cone cosines dotted),
        probe scatter. Falls back to a static figure re-drawn into an
        ``ipywidgets.Output`` where FigureWidget is unavailable.
    status : ipywidgets.HTML
        The latest numbers.
    runs : dict of str to int
        Number of records seen per run label (``"τ=0.01, seed 0"``).

    Examples
    --------
    >>> from amumo.data import SyntheticShapes
    >>> from amumo.training import TrainingMonitor, train_contrastive
    >>> monitor = TrainingMonitor()
    >>> hist = train_contrastive(SyntheticShapes(200, image_size=32), epochs=1, probe=32,
    ...                          callback=monitor)
    >>> monitor.runs
    {'τ=0.01, seed 0': 2}
    """

    def __init__(self, *, scatter: bool = True, pair_lines: bool = True, height: int = 360):
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        if isinstance(height, bool) or not isinstance(height, int) or height < 150:
            raise ValueError(f"height={height!r} must be an integer of at least 150 pixels.")
        self.scatter = bool(scatter)
        self.pair_lines = bool(pair_lines)
        cols = 3 if self.scatter else 2
        # Short titles: each gets a third of a notebook-wide figure (~230 px at 700 px); the
        # legend below names the dotted / dash-dotted cone-cosine lines.
        titles = ["training loss", "gap ‖Δ‖ · cone cosines"]
        if self.scatter:
            titles.append("probe embeddings (PCA)")
        base = make_subplots(rows=1, cols=cols, subplot_titles=titles, horizontal_spacing=0.08)
        base.update_annotations(font_size=13)  # the subplot titles
        base.update_layout(
            template="plotly_white", height=height, margin={"l": 40, "r": 10, "t": 40, "b": 40},
            legend={"orientation": "h", "y": -0.2},
        )
        for col in (1, 2):
            base.update_xaxes(title_text="epoch", row=1, col=col)
        self._static: go.Figure | None = None
        try:
            self.figure = go.FigureWidget(base)
            self._output = None
            view: widgets.Widget = self.figure
        except Exception:  # pragma: no cover - FigureWidget needs anywidget in the frontend
            self.figure = base
            self._output = widgets.Output()
            view = self._output
        if self.scatter:
            for modality in ("image", "text"):
                self.figure.add_scatter(
                    x=[], y=[], mode="markers", name=f"{modality} (probe)", row=1, col=3,
                    marker={"size": 5, "color": _MODALITY_COLOURS[modality], "opacity": 0.8},
                    hovertext=[], hoverinfo="text",
                )
            self.figure.add_scatter(
                x=[], y=[], mode="lines", name="pairs", row=1, col=3, hoverinfo="skip",
                line={"color": "rgba(120,120,120,0.25)", "width": 1}, showlegend=False,
            )
        self.status = widgets.HTML("<i>waiting for the first epoch…</i>")
        self.runs: dict[str, int] = {}
        self._traces: dict[str, tuple[int, int, int, int]] = {}
        self._seen: list[tuple[Any, str]] = []
        self._previous_coords: np.ndarray | None = None
        super().__init__([self.status, view])
        self._redraw_static()

    # ------------------------------------------------------------------ callback
    def __call__(self, history: Any) -> None:
        """Show the latest state of ``history`` (the ``train_contrastive`` callback)."""
        self.update(history)

    def update(self, history: Any) -> None:
        """Redraw the curves of ``history``'s run and the scatter of its latest probe."""
        if not hasattr(history, "records") or not history.records:
            raise TypeError(
                "update() needs a TrainingHistory with at least one record, got "
                f"{type(history).__name__}."
            )
        label = self._label_of(history)
        records = history.records
        epochs = [r["epoch"] for r in records]
        if label not in self._traces:
            self._add_run(label)
        loss_i, gap_i, cone_i, cone_t = self._traces[label]
        batch = getattr(self.figure, "batch_update", None)
        context = batch() if batch is not None else _Null()
        with context:
            data = self.figure.data
            data[loss_i].x, data[loss_i].y = epochs, [r["loss"] for r in records]
            data[gap_i].x, data[gap_i].y = epochs, [r["gap_distance"] for r in records]
            data[cone_i].x, data[cone_i].y = epochs, [r["cone_cosine:image"] for r in records]
            data[cone_t].x, data[cone_t].y = epochs, [r["cone_cosine:text"] for r in records]
            if self.scatter:
                self._draw_scatter(history)
        self.runs[label] = len(records)
        self._set_status(label, history)
        self._redraw_static()

    def replay(self, history: Any) -> TrainingMonitor:
        """Show a finished run (all its epochs at once); returns the monitor."""
        self.update(history)
        return self

    # ------------------------------------------------------------------ internals
    def _label_of(self, history: Any) -> str:
        for known, label in self._seen:
            if known is history:
                return label
        base = label = _run_label(history)
        k = 2
        while label in self._traces:
            label = f"{base} ({k})"
            k += 1
        self._seen.append((history, label))
        return label

    def _add_run(self, label: str) -> None:
        colour = _PALETTE[len(self._traces) % len(_PALETTE)]
        fig = self.figure
        start = len(fig.data)
        fig.add_scatter(x=[], y=[], mode="lines+markers", name=label, legendgroup=label,
                        line={"color": colour}, marker={"size": 4}, row=1, col=1)
        fig.add_scatter(x=[], y=[], mode="lines+markers", name=label, legendgroup=label,
                        showlegend=False, line={"color": colour}, marker={"size": 4},
                        row=1, col=2)
        for modality, dash in _CONE_DASH.items():
            fig.add_scatter(x=[], y=[], mode="lines", name=f"{label} cone {modality}",
                            legendgroup=label, showlegend=False,
                            line={"color": colour, "dash": dash, "width": 1}, row=1, col=2)
        self._traces[label] = (start, start + 1, start + 2, start + 3)
        if len(self._traces) == 1:
            # Legend keys of the cone-cosine line styles (every run draws both in its colour).
            for modality, dash in _CONE_DASH.items():
                fig.add_scatter(
                    x=[None], y=[None], mode="lines", name=f"cone cosine: {modality}",
                    line={"color": "#555555", "dash": dash, "width": 1.5}, hoverinfo="skip",
                    legendgroup="cone-key", row=1, col=2,
                )

    def _draw_scatter(self, history: Any) -> None:
        emb = history.probes[-1]
        coords = np.asarray(project(emb, "pca", cache=False), dtype=np.float64)
        n = len(emb)
        if self._previous_coords is not None and self._previous_coords.shape == coords.shape:
            # PCA axes have arbitrary signs: keep the picture from flipping between epochs.
            for axis in range(coords.shape[1]):
                if np.dot(coords[:, axis], self._previous_coords[:, axis]) < 0:
                    coords[:, axis] *= -1
        self._previous_coords = coords
        captions = (
            [str(c) for c in emb.meta["caption"]] if "caption" in emb.meta.columns
            else [str(i) for i in range(n)]
        )
        image, text = coords[:n], coords[n : 2 * n]
        data = self.figure.data
        data[0].x, data[0].y, data[0].hovertext = image[:, 0], image[:, 1], captions
        data[1].x, data[1].y, data[1].hovertext = text[:, 0], text[:, 1], captions
        if self.pair_lines:
            xs = np.column_stack([image[:, 0], text[:, 0], np.full(n, np.nan)]).ravel()
            ys = np.column_stack([image[:, 1], text[:, 1], np.full(n, np.nan)]).ravel()
            data[2].x, data[2].y = xs, ys

    def _set_status(self, label: str, history: Any) -> None:
        r = history.records[-1]
        total = history.settings.get("epochs", "?")
        self.status.value = (
            f"<b>{html.escape(label)}</b> · epoch {int(r['epoch'])}/{total} · "
            f"loss {r['loss']:.4f} · gap ‖Δ‖ {r['gap_distance']:.3f} · "
            f"cone cos image {r['cone_cosine:image']:.3f} / text {r['cone_cosine:text']:.3f} · "
            f"recall@1 image→text {r['recall@1:image->text']:.3f} · {r['seconds']:.1f} s"
        )

    def _redraw_static(self) -> None:
        if self._output is None:
            return
        from IPython.display import display  # pragma: no cover - fallback path

        with self._output:  # pragma: no cover - fallback path
            self._output.clear_output(wait=True)
            display(self.figure)


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
