// GapSweep widget: zero-shot accuracy (and harm per group) vs the gap shift λ, with a λ
// cursor. Click or drag on the plot (or use the arrow keys, Home / 0 for λ = 0) to move it;
// `lam` set from Python (or a linked Explorer slider) moves it too. SVG, no libraries; the
// curves arrive as float32 buffers (_xs, _ys, _gaps) cut into series by `_series`.
//
// The sweep's gap is images vs class texts, not the Explorer's paired gap: its name and
// explanation come from the kernel (_gap_name, _gap_help), as in the static plots.

import { f32, fmt, niceTicks, svg, watch } from "../lib/util.js";

/** Clicks and drags write `lam` at most once per this many ms (the last one always). */
const SEND_MS = 80;

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
      gapName.lastChild.textContent = model.get("_gap_help");
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
    xl.textContent = `shift \u03bb  (grey: ${model.get("_gap_name")} of images vs class texts)   \u00b7   ` +
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
      parts.push(`${model.get("_gap_name")} ${fmt(ref.g[i], 3)}` + (Math.abs(ref.x[i] - lam) > 1e-6 ?
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
        // Rounded to the digits shown: the float32 curve minus the float64 unshifted value
        // is a few 1e-8 off at λ = 0, which must read +0.000, not −0.000.
        const delta = u != null && Number.isFinite(u) ? Math.round((s.y[i] - u) * 1000) / 1000 : null;
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
    if (now || performance.now() - lastSent > SEND_MS) go();
    else timer = setTimeout(go, SEND_MS);
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
  const unwatch = watch(model, ["_xs", "_ys", "_gaps", "_series", "_unshifted", "_gap_name", "_gap_help", "title", "height"], () => draw());
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
    unwatch();
  };
}

export default { render };
