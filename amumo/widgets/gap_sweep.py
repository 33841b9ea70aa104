"""``GapSweep``: zero-shot accuracy (and harm per group) vs the gap shift λ, with a λ cursor.

The curves come from :func:`amumo.experiments.zero_shot_sweep` and
:func:`amumo.experiments.fairness_sweep` (Liang et al., "Mind the Gap",
NeurIPS 2022, Sec. 5); the widget only draws them. Its ``lam`` trait is the
position of the cursor: click or drag on the plot (or use the arrow keys) to
move it, set it from Python to move the cursor, or tie it to the Explorer's
close-the-gap slider with :meth:`GapSweep.link`, so that moving one moves the
other and the Explorer's heatmap and scatter follow.

The front end is ``js/widgets/gap_sweep.js`` (SVG, no external libraries; bundled
into ``amumo/static/gap_sweep.js`` with its style sheet ``js/css/gap_sweep.css``); the
curves travel as float32 binary buffers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import traitlets

from amumo.experiments.plots import GROUP_PALETTE, PALETTE, SWEEP_GAP_NAME
from amumo.experiments.zero_shot import DEFAULT_LAMS
from amumo.widgets._base import STATIC, AmumoWidget
from amumo.widgets._traits import Float32Array

__all__ = ["GapSweep"]

_METRIC_LABELS = {"top1": "top-1", "top5": "top-5", "mean_per_class": "mean per-class"}
_ACCURACY_COLOURS = {"top1": "#1f77b4", "top5": "#6baed6", "mean_per_class": "#2ca02c"}

#: The sweep's gap (images vs class texts) is not the Explorer's "gap distance" (paired images
#: vs captions): shifting along the image–caption gap closes that at λ = 1, not this one.
_GAP_HELP = (
    "‖mean(image′) − mean(class text′)‖: the gap between the shifted images and the class "
    "prompts. The Explorer's 'gap distance' is the gap between paired images and captions, "
    "which the shift closes at λ = 1; the class prompts are other texts, so this gap stays open."
)


def _check_frame(frame: Any, argument: str, needed: Sequence[str], source: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{argument} is a {type(frame).__name__}; pass the DataFrame returned by "
                        f"{source}.")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{argument} lacks column(s) {missing}; pass the result of {source}.")
    if frame.empty:
        raise ValueError(f"{argument} is empty; sweep at least one λ.")
    return frame


class GapSweep(AmumoWidget):
    """Accuracy (and harm per group) vs the gap shift λ, with a draggable λ cursor.

    Parameters
    ----------
    sweep : DataFrame, optional
        From :func:`amumo.experiments.zero_shot_sweep`; draws its accuracy columns.
    fairness : DataFrame, optional
        From :func:`amumo.experiments.fairness_sweep`; adds a panel of harm rate
        per group. At least one of ``sweep`` and ``fairness`` is needed.
    lam : float, default 0.0
        Initial cursor position.
    metrics : sequence of str, default ``("top1", "top5")``
        Accuracy columns of ``sweep`` to draw (columns that are NaN for every λ,
        like ``top5`` with ≤ 5 classes, are skipped and listed in
        :attr:`skipped_metrics`).
    title : str, optional
    height : int, default 360 (460 with a harm panel)
    snap : bool, default True
        Clicks and drags snap the cursor to the computed λ values.

    Traits
    ------
    lam : Float, synced
        The cursor; link it to the Explorer's close-gap slider with :meth:`link`.
    snap : Bool, synced
    title : Unicode, synced
    height : Int, synced (pixels)

    Examples
    --------
    >>> import numpy as np
    >>> import amumo as am
    >>> rng = np.random.default_rng(0)
    >>> texts = rng.normal(size=(6, 16))
    >>> labels = np.repeat(np.arange(6), 4)
    >>> images = texts[labels] + rng.normal(size=(24, 16)) + 2.0
    >>> view = am.GapSweep.compute(images, texts, labels, lams=np.linspace(-0.5, 1, 7))
    >>> view.lam = 0.5          # moves the cursor in the browser
    >>> view.at()["top-1"] == view.sweep.loc[view.sweep.lam == 0.5, "top1"].item()
    True
    """

    _esm = STATIC / "gap_sweep.js"
    _css = STATIC / "gap_sweep.css"

    lam = traitlets.Float(0.0, help="λ cursor (0 = unshifted model).").tag(sync=True)
    snap = traitlets.Bool(True, help="Snap clicks to computed λ values.").tag(sync=True)
    title = traitlets.Unicode("", help="Title above the plot.").tag(sync=True)
    height = traitlets.Int(360, help="Plot height in pixels.").tag(sync=True)
    _xs = Float32Array(help="λ of every point, series after series.").tag(sync=True)
    _ys = Float32Array(help="Value of every point (accuracy, harm rate).").tag(sync=True)
    _gaps = Float32Array(help="Gap distance at every point.").tag(sync=True)
    _series = traitlets.List(traitlets.Dict()).tag(sync=True)
    _unshifted = traitlets.Dict().tag(sync=True)
    _gap_name = traitlets.Unicode(SWEEP_GAP_NAME).tag(sync=True)
    _gap_help = traitlets.Unicode(_GAP_HELP).tag(sync=True)

    def __init__(
        self,
        sweep: pd.DataFrame | None = None,
        fairness: pd.DataFrame | None = None,
        *,
        lam: float = 0.0,
        metrics: Sequence[str] = ("top1", "top5"),
        title: str | None = None,
        height: int | None = None,
        snap: bool = True,
    ) -> None:
        if sweep is None and fairness is None:
            raise ValueError(
                "GapSweep needs sweep=zero_shot_sweep(...) and/or fairness=fairness_sweep(...) "
                "(or use GapSweep.compute(images, class_texts, labels, ...))."
            )
        if isinstance(metrics, str):
            metrics = [metrics]
        self._sweep = None if sweep is None else _check_frame(
            sweep, "sweep", ["lam", "gap_distance", "top1"], "amumo.experiments.zero_shot_sweep")
        self._fairness = None if fairness is None else _check_frame(
            fairness, "fairness", ["lam", "gap_distance", "group", "harm_rate"],
            "amumo.experiments.fairness_sweep")
        self.skipped_metrics: list[str] = []
        self._links: list[traitlets.link] = []
        series, xs, ys, gaps, unshifted = self._build_series(list(metrics))
        if height is None:
            height = 460 if self._sweep is not None and self._fairness is not None else 360
        if title is None:
            title = self._default_title()
        super().__init__(lam=lam, snap=snap, title=title, height=int(height))
        with self.hold_sync():
            self._xs, self._ys, self._gaps = xs, ys, gaps
            self._series, self._unshifted = series, unshifted

    # ----------------------------------------------------------------- construction

    @classmethod
    def compute(
        cls,
        images: Any,
        class_texts: Any,
        labels: Any = None,
        lams: Any = DEFAULT_LAMS,
        *,
        groups: Any = None,
        harmful_classes: Any = None,
        class_names: Any = None,
        gap: Any = None,
        **widget_kwargs: Any,
    ) -> GapSweep:
        """Run the sweeps and show them: zero-shot when ``labels`` are given, fairness
        when ``groups`` and ``harmful_classes`` are given (same λ grid and gap).

        Remaining keyword arguments go to :class:`GapSweep` (``lam``, ``metrics``,
        ``title``, ``height``, ``snap``).
        """
        from amumo.experiments import fairness_sweep, zero_shot_sweep

        if (groups is None) != (harmful_classes is None):
            raise ValueError("pass both groups= and harmful_classes= for the harm panel, or "
                             "neither.")
        if labels is None and groups is None:
            raise ValueError("pass labels= (accuracy) and/or groups= with harmful_classes= "
                             "(harm); with neither there is nothing to sweep.")
        sweep = None
        if labels is not None:
            sweep = zero_shot_sweep(images, class_texts, labels, lams, gap,
                                    class_names=class_names)
        fairness = None
        if groups is not None:
            fairness = fairness_sweep(images, class_texts, groups, harmful_classes, lams,
                                      labels=labels, class_names=class_names, gap=gap)
        return cls(sweep, fairness, **widget_kwargs)

    def _default_title(self) -> str:
        frame = self._sweep if self._sweep is not None else self._fairness
        n, c = frame.attrs.get("n_images"), frame.attrs.get("n_classes")
        what = "Zero-shot accuracy" if self._sweep is not None else "Denigration harm"
        if self._sweep is not None and self._fairness is not None:
            what += " and harm"
        size = f" — {n} images, {c} classes" if n is not None and c is not None else ""
        return f"{what} as the modality gap is shifted{size}"

    def _build_series(self, metrics: list[str]):
        series: list[dict[str, Any]] = []
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        gaps: list[np.ndarray] = []
        unshifted: dict[str, float] = {}
        offset = 0

        def add(key: str, label: str, panel: str, colour: str, dash: bool,
                frame: pd.DataFrame, column: str, base: float | None) -> None:
            nonlocal offset
            ordered = frame.sort_values("lam", kind="stable")
            xs.append(ordered["lam"].to_numpy(np.float64))
            ys.append(ordered[column].to_numpy(np.float64))
            gaps.append(ordered["gap_distance"].to_numpy(np.float64))
            series.append({"key": key, "label": label, "panel": panel, "color": colour,
                           "dash": dash, "offset": offset, "length": len(ordered),
                           "column": column})
            if base is not None and math.isfinite(base):
                unshifted[key] = float(base)
            offset += len(ordered)

        if self._sweep is not None:
            frame = self._sweep
            base = self._unshifted_rows(frame)[0]
            for m in metrics:
                if m not in frame.columns or not pd.api.types.is_numeric_dtype(frame[m]):
                    raise ValueError(f"metrics: {m!r} is not a numeric column of the sweep; "
                                     f"use e.g. 'top1', 'top5', 'mean_per_class'.")
                if frame[m].isna().all():
                    self.skipped_metrics.append(m)
                    continue
                add(m, _METRIC_LABELS.get(m, m), "accuracy",
                    _ACCURACY_COLOURS.get(m, PALETTE[len(series) % len(PALETTE)]), m == "top5",
                    frame, m, base.get(m))
        if self._fairness is not None:
            frame = self._fairness
            bases = {r["group"]: r for r in self._unshifted_rows(frame)}
            for i, group in enumerate(pd.unique(frame["group"])):
                rows = frame[frame["group"] == group]
                colour = GROUP_PALETTE[i % len(GROUP_PALETTE)]  # as in plot_fairness
                base = bases.get(group, {})
                add(f"harm:{group}", f"harm: {group}", "harm", colour, False, rows,
                    "harm_rate", base.get("harm_rate"))
        if not series:
            raise ValueError(f"nothing to draw: metrics {metrics} are NaN for every λ.")
        return (series, np.concatenate(xs), np.concatenate(ys), np.concatenate(gaps),
                unshifted)

    @staticmethod
    def _unshifted_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
        rows = frame[frame["lam"] == 0.0]
        if len(rows):
            return rows.to_dict("records")
        stored = frame.attrs.get("unshifted")
        if stored is None:
            return [{}]
        return list(stored) if isinstance(stored, list) else [stored]

    # ---------------------------------------------------------------------- traits

    @traitlets.validate("lam")
    def _valid_lam(self, proposal: dict[str, Any]) -> float:
        value = proposal["value"]
        if not math.isfinite(value):
            raise traitlets.TraitError(f"lam={value!r} must be finite.")
        return float(value)

    @traitlets.validate("height")
    def _valid_height(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] < 120:
            raise traitlets.TraitError(f"height={proposal['value']} must be at least 120 px.")
        return proposal["value"]

    # ------------------------------------------------------------------------- data

    @property
    def sweep(self) -> pd.DataFrame | None:
        """The zero-shot sweep shown (``None`` when only fairness was given)."""
        return self._sweep

    @property
    def fairness(self) -> pd.DataFrame | None:
        """The fairness sweep shown (``None`` when not given)."""
        return self._fairness

    @property
    def lams(self) -> np.ndarray:
        """The computed λ values (sorted, unique)."""
        return np.unique(np.frombuffer(self._xs, dtype="<f4").astype(np.float64))

    def series(self) -> pd.DataFrame:
        """The drawn curves as a long table ``series, panel, lam, gap_distance, value``."""
        xs = np.frombuffer(self._xs, dtype="<f4")
        ys = np.frombuffer(self._ys, dtype="<f4")
        gs = np.frombuffer(self._gaps, dtype="<f4")
        parts = []
        for s in self._series:
            sl = slice(s["offset"], s["offset"] + s["length"])
            parts.append(pd.DataFrame({"series": s["label"], "panel": s["panel"],
                                       "lam": xs[sl], "gap_distance": gs[sl], "value": ys[sl]}))
        return pd.concat(parts, ignore_index=True)

    def at(self, lam: float | None = None) -> dict[str, Any]:
        """Values at the computed λ nearest to ``lam`` (default: the cursor).

        Returns a dict with ``lam`` (asked), ``nearest_lam``, ``gap_distance``
        and one entry per curve (``"top-1"``, ``"harm: <group>"``, ...), the
        same numbers the browser's read-out shows, at full precision.
        """
        lam = self.lam if lam is None else float(lam)
        out: dict[str, Any] = {"lam": lam}
        frames = [(self._sweep, None)] if self._sweep is not None else []
        if self._fairness is not None:
            frames.append((self._fairness, "group"))
        for frame, by in frames:
            grid = frame["lam"].to_numpy(np.float64)
            nearest = grid[np.argmin(np.abs(grid - lam))]
            rows = frame[frame["lam"] == nearest]
            out.setdefault("nearest_lam", float(nearest))
            out.setdefault("gap_distance", float(rows["gap_distance"].iloc[0]))
            for s in self._series:
                if by is None and s["panel"] == "accuracy":
                    out[s["label"]] = float(rows[s["column"]].iloc[0])
                elif by is not None and s["panel"] == "harm":
                    group = s["key"].split(":", 1)[1]
                    match = rows[rows["group"].astype(str) == group]
                    out[s["label"]] = float(match["harm_rate"].iloc[0])
        return out

    # ---------------------------------------------------------------------- linking

    def link(self, other: Any, trait: str = "lam") -> traitlets.link:
        """Tie the cursor to ``other``'s ``trait`` in both directions.

        ``sweep.link(explorer)`` ties it to the Explorer's close-the-gap slider
        (its ``lam`` trait), so moving either moves the other; ``other`` takes the
        cursor's current value first. Also works with any widget or HasTraits
        object with a float trait, e.g. ``sweep.link(ipywidgets.FloatSlider(), "value")``.
        Returns the :class:`traitlets.link`; :meth:`unlink` removes all links.
        """
        if not isinstance(other, traitlets.HasTraits) or not other.has_trait(trait):
            raise TypeError(
                f"cannot link to a {type(other).__name__} without a {trait!r} trait; pass the "
                "Explorer (trait 'lam') or a widget and the name of its float trait."
            )
        link = traitlets.link((self, "lam"), (other, trait))
        self._links.append(link)
        return link

    def unlink(self) -> None:
        """Remove every link made with :meth:`link`."""
        while self._links:
            self._links.pop().unlink()

    def figure(self, x: str = "gap_distance"):
        """A static plotly figure of the same data (for export / papers)."""
        from amumo.experiments.plots import plot_fairness, plot_zero_shot

        if self._sweep is not None:
            return plot_zero_shot(self._sweep, x=x)
        return plot_fairness(self._fairness, x=x)
