"""plotly figures for the gap-shift sweeps: accuracy / harm vs gap distance (or λ).

The data comes first (:func:`zero_shot_sweep`, :func:`fairness_sweep`); these
helpers only draw it. The unshifted model (λ = 0) is marked with a star and a
dotted vertical line; the best λ of an accuracy curve with a diamond.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from amumo._util import fixed

__all__ = ["plot_zero_shot", "plot_fairness"]

_X_TITLES = {
    "gap_distance": "class-text gap ‖mean(image′) − mean(class text′)‖",
    "lam": "shift λ (0 = model as trained, 1 = gap closed, < 0 = gap widened)",
}
_METRIC_TITLES = {
    "top1": "top-1",
    "top5": "top-5",
    "mean_per_class": "mean per-class",
    "harm_rate": "harm rate",
}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
#: Colours of the groups of a fairness sweep (plot_fairness and the GapSweep widget alike):
#: far apart in hue and lightness (orange / dark purple / teal ...), none shared with the
#: accuracy curves (blue, light blue, green).
GROUP_PALETTE = ("#e66100", "#5d3a9b", "#1b9e77", "#a6761d", "#e7298a", "#666666",
                 "#66a61e", "#17becf")
#: One name for the gap of a zero-shot / fairness sweep: images vs the class texts (not the
#: image–caption gap of paired embeddings, which the Explorer calls "gap distance").
SWEEP_GAP_NAME = "class-text gap"


def _check_frame(frame: Any, experiment: str, needed: Sequence[str]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected the DataFrame returned by {experiment}, got "
                        f"{type(frame).__name__}.")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; pass the result of {experiment}.")
    if frame.empty:
        raise ValueError("the frame is empty; nothing to plot.")
    return frame


def _check_x(x: str) -> str:
    if x not in _X_TITLES:
        raise ValueError(f"x={x!r} must be one of {sorted(_X_TITLES)}.")
    return x


def _unshifted(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The λ = 0 row(s): from the frame if present, else from ``frame.attrs``."""
    rows = frame[frame["lam"] == 0.0]
    if len(rows):
        return rows.to_dict("records")
    stored = frame.attrs.get("unshifted")
    if stored is None:
        raise ValueError(
            "the frame has no λ = 0 row and no attrs['unshifted']; include 0 in lams to "
            "mark the unshifted model."
        )
    return list(stored) if isinstance(stored, list) else [stored]


def _branches(ordered: pd.DataFrame, x: str) -> list[tuple[pd.DataFrame, bool]]:
    """Split a λ-sorted curve where the gap distance is smallest.

    Past the λ that closes the gap (≈ 1) the gap re-opens with the modalities
    swapped, so against gap distance the curve folds back. The part beyond the
    minimum is returned separately (flag True) and drawn faded; against λ, or
    when the minimum is at an end of the grid, there is one branch.
    """
    if x != "gap_distance" or len(ordered) < 3:
        return [(ordered, False)]
    turn = int(np.argmin(ordered["gap_distance"].to_numpy()))
    if turn in (0, len(ordered) - 1):
        return [(ordered, False)]
    return [(ordered.iloc[: turn + 1], False), (ordered.iloc[turn:], True)]


_FADED = 0.4


def _hover(x: str, label: str) -> str:
    other = (f"{SWEEP_GAP_NAME} %{{customdata[1]:.3f}}" if x == "lam"
             else "λ = %{customdata[0]:.3f}")
    return f"<b>{label}</b><br>%{{y:.4f}}<br>{other}<extra></extra>"


def plot_zero_shot(
    sweep: pd.DataFrame,
    metrics: Sequence[str] | str | None = None,
    x: str = "gap_distance",
    *,
    title: str | None = None,
    mark_best: bool = True,
):
    """Zero-shot accuracy vs gap distance (or λ), unshifted point marked.

    Parameters
    ----------
    sweep : DataFrame
        The result of :func:`~amumo.experiments.zero_shot_sweep`.
    metrics : str or list of str, optional
        Columns to draw; default ``top1`` and, when defined, ``top5``.
    x : {"gap_distance", "lam"}, default "gap_distance"
    title : str, optional
    mark_best : bool, default True
        Mark the λ with the highest value of each metric (diamond).

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> import numpy as np
    >>> import amumo as am
    >>> rng = np.random.default_rng(0)
    >>> texts = rng.normal(size=(3, 8))
    >>> labels = np.array([0, 1, 2, 0])
    >>> df = am.experiments.zero_shot_sweep(texts[labels] + 1, texts, labels, [0, 0.5, 1])
    >>> fig = am.experiments.plot_zero_shot(df)
    >>> [t.name for t in fig.data][:2]
    ['top-1', 'unshifted']
    """
    import plotly.graph_objects as go

    from amumo.experiments.zero_shot import best_shift

    frame = _check_frame(sweep, "zero_shot_sweep", ["lam", "gap_distance", "top1"])
    x = _check_x(x)
    if metrics is None:
        metrics = ["top1"] + (["top5"] if frame.get("top5", pd.Series(dtype=float))
                              .notna().any() else [])
    elif isinstance(metrics, str):
        metrics = [metrics]
    metrics = list(metrics)
    for m in metrics:
        if m not in frame.columns or not pd.api.types.is_numeric_dtype(frame[m]):
            raise ValueError(f"metric {m!r} is not a numeric column of the sweep.")
        if frame[m].isna().all():
            raise ValueError(f"metric {m!r} is NaN for every λ (top5 needs more than 5 classes).")
    ordered = frame.sort_values("lam", kind="stable")
    unshifted = _unshifted(frame)[0]
    fig = go.Figure()
    branches = _branches(ordered, x)
    for i, m in enumerate(metrics):
        colour = PALETTE[i % len(PALETTE)]
        label = _METRIC_TITLES.get(m, m)
        for part, folded in branches:
            name = f"{label}, λ ≥ {part['lam'].iloc[0]:.2f} (gap re-opened)" if folded else label
            fig.add_trace(go.Scatter(
                x=part[x], y=part[m], mode="lines+markers", name=name,
                line={"color": colour, "width": 1.5 if folded else 2},
                marker={"size": 4 if folded else 5, "color": colour},
                opacity=_FADED if folded else 1.0,
                customdata=np.column_stack([part["lam"], part["gap_distance"]]),
                hovertemplate=_hover(x, name), legendgroup=m,
            ))
        fig.add_trace(go.Scatter(
            x=[unshifted[x]], y=[unshifted[m]], mode="markers", name="unshifted",
            marker={"symbol": "star", "size": 15, "color": colour,
                    "line": {"color": "black", "width": 1}},
            showlegend=i == 0, legendgroup="unshifted",
            hovertemplate=f"<b>unshifted model</b><br>{label} %{{y:.4f}}<br>{SWEEP_GAP_NAME} "
            f"{unshifted['gap_distance']:.3f}<extra></extra>",
        ))
        if mark_best:
            best = best_shift(frame, m)
            fig.add_trace(go.Scatter(
                x=[best[x]], y=[best[m]], mode="markers+text", name=f"best {label}",
                marker={"symbol": "diamond", "size": 11, "color": colour,
                        "line": {"color": "white", "width": 1}},
                text=[f"λ={fixed(best['lam'])}"],
                textposition="top center" if i % 2 == 0 else "bottom center",
                textfont={"color": colour}, showlegend=False,
                hovertemplate=f"<b>best {label}</b><br>%{{y:.4f}} at λ = {fixed(best['lam'], 3)}, "
                f"gap {best['gap_distance']:.3f}<extra></extra>",
            ))
    fig.add_vline(x=unshifted[x], line={"dash": "dot", "color": "#555", "width": 1},
                  annotation_text="model's own gap" if x == "gap_distance" else "λ = 0",
                  annotation_position="bottom right", annotation_font_size=11)
    n, c = frame.attrs.get("n_images"), frame.attrs.get("n_classes")
    subtitle = f" ({n} images, {c} classes)" if n is not None and c is not None else ""
    fig.update_layout(
        title=title or f"Zero-shot accuracy as the modality gap is shifted{subtitle}",
        xaxis_title=_X_TITLES[x], yaxis_title="accuracy", template="plotly_white",
        hovermode="closest", legend={"orientation": "h", "y": -0.2}, height=420,
        margin={"t": 60, "b": 90},
    )
    return fig


def plot_fairness(
    fairness: pd.DataFrame,
    x: str = "gap_distance",
    *,
    title: str | None = None,
):
    """Harm rate per group (and per-group top-1 when present) vs gap distance or λ.

    Parameters
    ----------
    fairness : DataFrame
        The result of :func:`~amumo.experiments.fairness_sweep`.
    x : {"gap_distance", "lam"}, default "gap_distance"
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        One panel of harm rates; a second panel of per-group top-1 accuracy when
        the sweep was given labels. Stars mark the unshifted model.

    Examples
    --------
    >>> import numpy as np
    >>> import amumo as am
    >>> rng = np.random.default_rng(0)
    >>> texts = rng.normal(size=(3, 8))
    >>> df = am.experiments.fairness_sweep(texts[[0, 1, 0, 1]] + 1, texts, ["a", "a", "b", "b"],
    ...                                    [2], lams=[0.0, 1.0])
    >>> len(am.experiments.plot_fairness(df).data)
    4
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    frame = _check_frame(fairness, "fairness_sweep",
                         ["lam", "gap_distance", "group", "harm_rate"])
    x = _check_x(x)
    with_accuracy = "top1" in frame.columns
    fig = make_subplots(
        rows=2 if with_accuracy else 1, cols=1, shared_xaxes=True, vertical_spacing=0.08,
        subplot_titles=("harm rate (images assigned a harmful class)",
                        "top-1 accuracy per group") if with_accuracy else None,
    )
    unshifted = {r["group"]: r for r in _unshifted(frame)}
    panels = [("harm_rate", 1)] + ([("top1", 2)] if with_accuracy else [])
    groups = list(pd.unique(frame["group"]))
    for g_i, group in enumerate(groups):
        colour = GROUP_PALETTE[g_i % len(GROUP_PALETTE)]
        rows = frame[frame["group"] == group].sort_values("lam", kind="stable")
        for column, panel in panels:
            for part, folded in _branches(rows, x):
                fig.add_trace(go.Scatter(
                    x=part[x], y=part[column], mode="lines+markers",
                    name=f"{group} (gap re-opened)" if folded else f"{group}",
                    line={"color": colour, "width": 1.5 if folded else 2,
                          "dash": "solid" if panel == 1 else "dot"},
                    marker={"size": 3 if folded else 4, "color": colour},
                    opacity=_FADED if folded else 1.0,
                    customdata=np.column_stack([part["lam"], part["gap_distance"]]),
                    hovertemplate=_hover(x, f"{group}: {_METRIC_TITLES.get(column, column)}"
                                         + (" (gap re-opened)" if folded else "")),
                    legendgroup=str(group), showlegend=panel == 1 and not folded,
                ), row=panel, col=1)
            base = unshifted.get(group)
            if base is not None:
                fig.add_trace(go.Scatter(
                    x=[base[x]], y=[base[column]], mode="markers", name="unshifted",
                    marker={"symbol": "star", "size": 13, "color": colour,
                            "line": {"color": "black", "width": 1}},
                    legendgroup=str(group), showlegend=False,
                    hovertemplate=f"<b>{group}, unshifted</b><br>%{{y:.4f}}<extra></extra>",
                ), row=panel, col=1)
    base_x = next(iter(unshifted.values()))[x]
    for _, panel in panels:
        fig.add_vline(x=base_x, line={"dash": "dot", "color": "#555", "width": 1},
                      row=panel, col=1)
    harmful = frame.attrs.get("harmful_classes")
    what = f" (harmful: {', '.join(map(str, harmful))})" if harmful else ""
    fig.update_layout(
        title=title or f"Denigration harm per group as the gap is shifted{what}",
        template="plotly_white", hovermode="closest", height=560 if with_accuracy else 400,
        legend={"title": {"text": "group (★ = unshifted)"}}, margin={"t": 70, "b": 100},
        annotations=list(fig.layout.annotations) + ([{
            "text": "faded: λ past the closed gap (gap re-opened, modalities swapped)",
            "xref": "paper", "yref": "paper", "x": 1.0, "y": -0.2, "showarrow": False,
            "font": {"size": 10, "color": "#777"}, "xanchor": "right"}]
            if len(_branches(frame[frame["group"] == groups[0]]
                             .sort_values("lam", kind="stable"), x)) > 1 else []),
    )
    fig.update_xaxes(title_text=_X_TITLES[x], row=2 if with_accuracy else 1, col=1)
    fig.update_yaxes(title_text="harm rate", row=1, col=1, rangemode="tozero")
    if with_accuracy:
        fig.update_yaxes(title_text="top-1", row=2, col=1)
    return fig
