"""``GapSweep``: zero-shot accuracy (and harm per group) vs the gap shift λ, with a λ cursor.

The curves come from :func:`amumo.experiments.zero_shot_sweep` and
:func:`amumo.experiments.fairness_sweep` (Liang et al., "Mind the Gap",
NeurIPS 2022, Sec. 5); the widget only draws them. Its ``lam`` trait is the
position of the cursor: click or drag on the plot (or use the arrow keys) to
move it, set it from Python to move the cursor, or tie it to the Explorer's
close-the-gap slider with :meth:`GapSweep.link`, so that moving one moves the
other and the Explorer's heatmap and scatter follow.

The front end is a small self-contained ES module (SVG, no external libraries)
kept in this file; the curves travel as float32 binary buffers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from amumo.experiments.plots import GROUP_PALETTE, PALETTE, SWEEP_GAP_NAME
from amumo.experiments.zero_shot import DEFAULT_LAMS
from amumo.widgets.export import HTMLExportMixin

__all__ = ["GapSweep"]

_METRIC_LABELS = {"top1": "top-1", "top5": "top-5", "mean_per_class": "mean per-class"}
_ACCURACY_COLOURS = {"top1": "#1f77b4", "top5": "#6baed6", "mean_per_class": "#2ca02c"}

_ESM = r"""
const NS = "http://www.w3.org/2000/svg";

function f32(v) {
  if (v == null) return new Float32Array(0);
  if (v instanceof DataView) return new Float32Array(v.buffer, v.byteOffset, v.byteLength >> 2);
  if (v instanceof ArrayBuffer) return new Float32Array(v);
  if (ArrayBuffer.isView(v)) return new Float32Array(v.buffer, v.byteOffset, v.byteLength >> 2);
  return new Float32Array(0);
}
function svg(tag, attrs = {}, parent = null) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) n.setAttribute(k, String(v));
  if (parent) parent.appendChild(n);
  return n;
}
function fmt(v, d = 3) {
  if (v == null || !Number.isFinite(v)) return "–";
  return v.toFixed(d).replace("-", "\u2212");
}
function niceTicks(lo, hi, n = 6) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step; t += step) {
    out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  }
  return out;
}
function nearest(xs, x) {
  let best = -1, dist = Infinity;
  for (let i = 0; i < xs.length; i++) {
    const d = Math.abs(xs[i] - x);
    if (d < dist) { dist = d; best = i; }
  }
  return best;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "amumo-gapsweep";
  const title = document.createElement("div");
  title.className = "amumo-gapsweep-title";
  const legend = document.createElement("div");
  legend.className = "amumo-gapsweep-legend";
  const plot = svg("svg", { class: "amumo-gapsweep-plot", tabindex: 0, role: "slider",
                            "aria-label": "gap shift lambda" });
  const readout = document.createElement("div");
  readout.className = "amumo-gapsweep-readout";
  root.append(title, legend, plot, readout);
  el.appendChild(root);

  let data = null;      // parsed series
  let geom = null;      // current layout
  let localLam = null;  // cursor while dragging (before the kernel echoes it)

  function parse() {
    const xs = f32(model.get("_xs")), ys = f32(model.get("_ys")), gs = f32(model.get("_gaps"));
    const series = (model.get("_series") || []).map((s) => ({
      ...s,
      x: xs.subarray(s.offset, s.offset + s.length),
      y: ys.subarray(s.offset, s.offset + s.length),
      g: gs.subarray(s.offset, s.offset + s.length),
    }));
    const grid = Array.from(new Set(Array.from(xs))).sort((a, b) => a - b);
    const panels = ["accuracy", "harm"].filter((p) => series.some((s) => s.panel === p));
    return { series, grid, panels, unshifted: model.get("_unshifted") || {} };
  }

  function drawLegend() {
    legend.textContent = "";
    for (const s of data.series) {
      const item = document.createElement("span");
      item.className = "amumo-gapsweep-key";
      const sw = document.createElement("i");
      sw.style.borderTopColor = s.color;
      sw.style.borderTopStyle = s.dash ? "dashed" : "solid";
      item.append(sw, document.createTextNode(s.label));
      legend.appendChild(item);
    }
    const star = document.createElement("span");
    star.className = "amumo-gapsweep-key";
    star.textContent = "\u2605 unshifted model (\u03bb = 0)";
    legend.appendChild(star);
  }

  function layout() {
    const width = Math.max(320, root.clientWidth || el.clientWidth || 640);
    const height = model.get("height");
    const m = { left: 58, right: 18, top: 10, bottom: 52 };
    const gapBetween = 26;
    const nP = data.panels.length || 1;
    const ph = (height - m.top - m.bottom - gapBetween * (nP - 1)) / nP;
    const lo = data.grid.length ? Math.min(data.grid[0], 0) : -0.5;
    const hi = data.grid.length ? Math.max(data.grid[data.grid.length - 1], 0) : 1;
    const pad = (hi - lo) * 0.02 || 0.05;
    const x0 = lo - pad, x1 = hi + pad;
    const panels = data.panels.map((name, i) => {
      const ss = data.series.filter((s) => s.panel === name);
      let ylo = Infinity, yhi = -Infinity;
      for (const s of ss) for (const v of s.y) if (Number.isFinite(v)) {
        ylo = Math.min(ylo, v); yhi = Math.max(yhi, v);
      }
      for (const s of ss) {
        const u = data.unshifted[s.key];
        if (u != null && Number.isFinite(u)) { ylo = Math.min(ylo, u); yhi = Math.max(yhi, u); }
      }
      if (!Number.isFinite(ylo)) { ylo = 0; yhi = 1; }
      if (name === "harm") ylo = 0;
      const span = yhi - ylo || 0.1;
      ylo = Math.max(0, ylo - span * 0.08); yhi = Math.min(1.02, yhi + span * 0.12);
      if (!(yhi > ylo)) yhi = ylo + 0.05;
      const top = m.top + i * (ph + gapBetween);
      return { name, series: ss, top, bottom: top + ph, ylo, yhi };
    });
    const sx = (x) => m.left + ((x - x0) / (x1 - x0)) * (width - m.left - m.right);
    const inv = (px) => x0 + ((px - m.left) / (width - m.left - m.right)) * (x1 - x0);
    return { width, height, m, panels, x0, x1, lo, hi, sx, inv };
  }

  function draw() {
    data = parse();
    title.textContent = model.get("title");
    title.style.display = model.get("title") ? "" : "none";
    drawLegend();
    geom = layout();
    const { width, height, m, panels, sx } = geom;
    plot.setAttribute("width", width);
    plot.setAttribute("height", height);
    plot.setAttribute("viewBox", `0 0 ${width} ${height}`);
    plot.textContent = "";
    const xt = niceTicks(geom.x0, geom.x1, Math.max(3, Math.floor(width / 90)));
    const ref = data.series.find((s) => s.panel === "accuracy") || data.series[0];
    for (const p of panels) {
      const sy = (y) => p.bottom - ((y - p.ylo) / (p.yhi - p.ylo)) * (p.bottom - p.top);
      p.sy = sy;
      const g = svg("g", { class: `amumo-gapsweep-panel panel-${p.name}` }, plot);
      svg("rect", { x: m.left, y: p.top, width: width - m.left - m.right,
                    height: p.bottom - p.top, class: "frame" }, g);
      for (const t of niceTicks(p.ylo, p.yhi, 4)) {
        const y = sy(t);
        svg("line", { x1: m.left, x2: width - m.right, y1: y, y2: y, class: "grid" }, g);
        const lab = svg("text", { x: m.left - 6, y: y + 4, class: "tick",
                                  "text-anchor": "end" }, g);
        lab.textContent = fmt(t, p.yhi - p.ylo < 0.05 ? 3 : 2);
      }
      for (const t of xt) {
        svg("line", { x1: sx(t), x2: sx(t), y1: p.top, y2: p.bottom, class: "grid" }, g);
      }
      const ylab = svg("text", { class: "axis-title", "text-anchor": "middle",
        transform: `translate(14 ${(p.top + p.bottom) / 2}) rotate(-90)` }, g);
      ylab.textContent = p.name === "harm" ? "harm rate" : "accuracy";
      // the unshifted model: lambda = 0
      svg("line", { x1: sx(0), x2: sx(0), y1: p.top, y2: p.bottom, class: "zero" }, g);
      for (const s of p.series) {
        const pts = [];
        for (let i = 0; i < s.x.length; i++) {
          if (!Number.isFinite(s.y[i])) continue;
          pts.push(`${sx(s.x[i]).toFixed(1)},${sy(s.y[i]).toFixed(1)}`);
        }
        svg("polyline", { points: pts.join(" "), class: "curve", stroke: s.color,
                          "stroke-dasharray": s.dash ? "5 3" : null }, g);
        for (let i = 0; i < s.x.length; i++) {
          if (Number.isFinite(s.y[i])) {
            svg("circle", { cx: sx(s.x[i]), cy: sy(s.y[i]), r: 2, fill: s.color }, g);
          }
        }
        const u = data.unshifted[s.key];
        if (u != null && Number.isFinite(u)) {
          const star = svg("text", { x: sx(0), y: sy(u) + 5, class: "star", fill: s.color,
                                     "text-anchor": "middle" }, g);
          star.textContent = "\u2605";
        }
      }
    }
    // x axis: lambda, with the gap distance underneath
    const last = panels[panels.length - 1] || { bottom: height - m.bottom };
    const lamName = svg("text", { x: m.left - 6, y: last.bottom + 15, class: "tick",
                                  "text-anchor": "end" }, plot);
    lamName.textContent = "\u03bb";
    if (ref) {
      const gapName = svg("text", { x: m.left - 6, y: last.bottom + 28, class: "tick gap",
                                    "text-anchor": "end" }, plot);
      gapName.textContent = "class gap";
      gapName.appendChild(svg("title", {}));
      gapName.lastChild.textContent = GAP_HELP;
    }
    for (const t of xt) {
      const lab = svg("text", { x: sx(t), y: last.bottom + 15, class: "tick",
                                "text-anchor": "middle" }, plot);
      lab.textContent = fmt(t, 2);
      if (ref && t >= geom.lo && t <= geom.hi && ref.x.length > 1) {
        const gl = svg("text", { x: sx(t), y: last.bottom + 28, class: "tick gap",
                                 "text-anchor": "middle" }, plot);
        gl.textContent = fmt(interp(ref.x, ref.g, t), 2);
      }
    }
    const xl = svg("text", { x: (m.left + width - m.right) / 2, y: height - 6,
                             class: "axis-title", "text-anchor": "middle" }, plot);
    xl.textContent = `shift \u03bb  (grey: ${GAP_NAME} of images vs class texts)   \u00b7   ` +
                     "0 = model as trained, 1 = gap closed, < 0 = gap widened";
    const c = svg("g", { class: "cursor" }, plot);
    geom.cursor = c;
    drawCursor();
    root.setAttribute("data-rendered", "1");
  }

  function interp(xs, ys, x) {
    // linear interpolation on the (sorted) grid of a series
    if (!xs.length) return NaN;
    if (x <= xs[0]) return ys[0];
    for (let i = 1; i < xs.length; i++) {
      if (x <= xs[i]) {
        const t = (x - xs[i - 1]) / (xs[i] - xs[i - 1] || 1);
        return ys[i - 1] + t * (ys[i] - ys[i - 1]);
      }
    }
    return ys[xs.length - 1];
  }

  function drawCursor() {
    if (!geom) return;
    const lam = localLam ?? model.get("lam");
    const { sx, panels, m } = geom;
    const c = geom.cursor;
    c.textContent = "";
    const clamped = Math.min(Math.max(lam, geom.x0), geom.x1);
    const x = sx(clamped);
    const top = panels.length ? panels[0].top : m.top;
    const bottom = panels.length ? panels[panels.length - 1].bottom : geom.height - m.bottom;
    svg("line", { x1: x, x2: x, y1: top, y2: bottom, class: "cursor-line" }, c);
    svg("path", { d: `M ${x - 6} ${top - 1} L ${x + 6} ${top - 1} L ${x} ${top + 7} Z`,
                  class: "cursor-handle" }, c);
    const parts = [`\u03bb = ${fmt(lam, 2)}`];
    const ref = data.series.find((s) => s.panel === "accuracy") || data.series[0];
    if (ref && ref.x.length) {
      const i = nearest(ref.x, lam);
      parts.push(`${GAP_NAME} ${fmt(ref.g[i], 3)}` + (Math.abs(ref.x[i] - lam) > 1e-6 ?
        ` (at computed \u03bb = ${fmt(ref.x[i], 2)})` : ""));
    }
    for (const p of panels) {
      for (const s of p.series) {
        if (!s.x.length) continue;
        const i = nearest(s.x, lam);
        if (!Number.isFinite(s.y[i])) continue;
        svg("circle", { cx: sx(s.x[i]), cy: p.sy(s.y[i]), r: 4.5, class: "cursor-dot",
                        stroke: s.color }, c);
        const u = data.unshifted[s.key];
        const delta = u != null && Number.isFinite(u) ? s.y[i] - u : null;
        parts.push(`${s.label} ${fmt(s.y[i], 3)}` +
          (delta != null ? ` (${delta >= 0 ? "+" : "\u2212"}${fmt(Math.abs(delta), 3)})` : ""));
      }
    }
    if (lam < geom.x0 || lam > geom.x1) parts.push("outside the computed range");
    readout.textContent = parts.join("   \u00b7   ");
    plot.setAttribute("aria-valuenow", String(lam));
    root.setAttribute("data-lam", String(lam));
  }

  function lamAt(evt) {
    const rect = plot.getBoundingClientRect();
    const px = (evt.clientX - rect.left) * (geom.width / rect.width);
    let lam = geom.inv(px);
    lam = Math.min(Math.max(lam, geom.lo), geom.hi);
    if (model.get("snap") && data.grid.length) lam = data.grid[nearest(data.grid, lam)];
    return Math.round(lam * 1e6) / 1e6;
  }

  let lastSent = 0, timer = null;
  function send(lam, now = false) {
    localLam = lam;
    drawCursor();
    const go = () => {
      lastSent = performance.now();
      timer = null;
      if (model.get("lam") !== localLam) { model.set("lam", localLam); model.save_changes(); }
    };
    clearTimeout(timer);
    if (now || performance.now() - lastSent > 80) go();
    else timer = setTimeout(go, 80);
  }

  let dragging = false;
  plot.addEventListener("pointerdown", (evt) => {
    if (!geom || evt.button !== 0) return;
    dragging = true;
    plot.setPointerCapture?.(evt.pointerId);
    plot.focus();
    send(lamAt(evt));
    evt.preventDefault();
  });
  plot.addEventListener("pointermove", (evt) => { if (dragging) send(lamAt(evt)); });
  const end = (evt) => {
    if (!dragging) return;
    dragging = false;
    send(lamAt(evt), true);
    localLam = null;
  };
  plot.addEventListener("pointerup", end);
  plot.addEventListener("pointercancel", end);
  plot.addEventListener("keydown", (evt) => {
    if (!data || !data.grid.length) return;
    const lam = model.get("lam");
    const i = nearest(data.grid, lam);
    let j = null;
    if (evt.key === "ArrowRight" || evt.key === "ArrowUp") {
      j = data.grid[i] > lam + 1e-9 ? i : Math.min(i + 1, data.grid.length - 1);
    } else if (evt.key === "ArrowLeft" || evt.key === "ArrowDown") {
      j = data.grid[i] < lam - 1e-9 ? i : Math.max(i - 1, 0);
    } else if (evt.key === "Home" || evt.key === "0") {
      send(0, true); localLam = null; evt.preventDefault(); return;
    }
    if (j != null) { send(data.grid[j], true); localLam = null; evt.preventDefault(); }
  });

  const onLam = () => { if (!dragging) { localLam = null; drawCursor(); } };
  model.on("change:lam", onLam);
  const redraw = () => draw();
  for (const t of ["_xs", "_ys", "_gaps", "_series", "_unshifted", "title", "height"]) {
    model.on(`change:${t}`, redraw);
  }
  let lastWidth = 0;
  const ro = new ResizeObserver(() => {
    const w = root.clientWidth;
    if (w && Math.abs(w - lastWidth) > 2) { lastWidth = w; draw(); }
  });
  ro.observe(root);
  draw();
  return () => {
    ro.disconnect();
    clearTimeout(timer);
    model.off("change:lam", onLam);
  };
}

export default { render };
"""

#: The sweep's gap (images vs class texts) is not the Explorer's "gap distance" (paired images
#: vs captions): shifting along the image–caption gap closes that at λ = 1, not this one.
_GAP_HELP = (
    "‖mean(image′) − mean(class text′)‖: the gap between the shifted images and the class "
    "prompts. The Explorer's 'gap distance' is the gap between paired images and captions, "
    "which the shift closes at λ = 1; the class prompts are other texts, so this gap stays open."
)
_ESM = (
    f"const GAP_NAME = {json.dumps(SWEEP_GAP_NAME)};\n"
    f"const GAP_HELP = {json.dumps(_GAP_HELP)};\n" + _ESM
)


_CSS = r"""
.amumo-gapsweep { font: 12px var(--jp-ui-font-family, system-ui, sans-serif);
  color: var(--jp-ui-font-color1, #222); max-width: 960px; }
.amumo-gapsweep-title { font-size: 14px; font-weight: 600; margin: 2px 0 4px 4px; }
.amumo-gapsweep-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 0 0 2px 58px; }
.amumo-gapsweep-key { display: inline-flex; align-items: center; gap: 5px; }
.amumo-gapsweep-key i { display: inline-block; width: 18px; border-top-width: 2px; }
.amumo-gapsweep-plot { display: block; cursor: ew-resize; touch-action: none;
  user-select: none; outline: none; }
.amumo-gapsweep-plot:focus-visible .frame { stroke: var(--jp-brand-color1, #1976d2); }
.amumo-gapsweep-plot .frame { fill: none; stroke: var(--jp-border-color1, #bbb); }
.amumo-gapsweep-plot .grid { stroke: var(--jp-border-color2, #e6e6e6); stroke-width: 1; }
.amumo-gapsweep-plot .tick { fill: var(--jp-ui-font-color2, #555); font-size: 11px; }
.amumo-gapsweep-plot .tick.gap { fill: var(--jp-ui-font-color3, #999); font-size: 10px; }
.amumo-gapsweep-plot .axis-title { fill: var(--jp-ui-font-color1, #333); font-size: 11px; }
.amumo-gapsweep-plot .zero { stroke: var(--jp-ui-font-color2, #555); stroke-dasharray: 2 3; }
.amumo-gapsweep-plot .curve { fill: none; stroke-width: 2; }
.amumo-gapsweep-plot .star { font-size: 15px; stroke: var(--jp-layout-color0, #fff);
  stroke-width: 0.6; paint-order: stroke; }
.amumo-gapsweep-plot .cursor-line { stroke: var(--jp-ui-font-color0, #111); stroke-width: 1.5; }
.amumo-gapsweep-plot .cursor-handle { fill: var(--jp-ui-font-color0, #111); }
.amumo-gapsweep-plot .cursor-dot { fill: var(--jp-layout-color0, #fff); stroke-width: 2; }
.amumo-gapsweep-readout { margin: 2px 0 0 58px; min-height: 16px;
  font-variant-numeric: tabular-nums; color: var(--jp-ui-font-color1, #222); }
"""


def _as_f32_bytes(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype="<f4").tobytes()


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


class GapSweep(HTMLExportMixin, anywidget.AnyWidget):
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

    _esm = _ESM
    _css = _CSS

    lam = traitlets.Float(0.0, help="λ cursor (0 = unshifted model).").tag(sync=True)
    snap = traitlets.Bool(True, help="Snap clicks to computed λ values.").tag(sync=True)
    title = traitlets.Unicode("", help="Title above the plot.").tag(sync=True)
    height = traitlets.Int(360, help="Plot height in pixels.").tag(sync=True)
    _xs = traitlets.Bytes(b"").tag(sync=True)
    _ys = traitlets.Bytes(b"").tag(sync=True)
    _gaps = traitlets.Bytes(b"").tag(sync=True)
    _series = traitlets.List(traitlets.Dict()).tag(sync=True)
    _unshifted = traitlets.Dict().tag(sync=True)

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
        super().__init__(
            lam=lam, snap=snap, title=title, height=int(height),
            _xs=_as_f32_bytes(xs), _ys=_as_f32_bytes(ys), _gaps=_as_f32_bytes(gaps),
            _series=series, _unshifted=unshifted,
        )

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
