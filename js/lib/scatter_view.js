// ScatterView: a 2-D projection of every item drawn with WebGL (regl-scatterplot), a line
// per pair, hover, box / lasso selection, pan and zoom; millions of points.
//
// Layers of one stage (all the same size, the plot square at PAD):
//   base canvas (2D)    background, grid, ticks, axis labels, pair lines
//   gl canvas           the points (regl-scatterplot; one WebGL context shared by every
//                       view of the page, copied into each view's canvas)
//   overlay canvas (2D) hovered / linked pair, box shape (pointer-events: none)
// regl-scatterplot owns the camera (wheel zoom, drag pan), the hover spatial index
// (KDBush) and the selection highlight; box, lasso and clicks are handled here.
//
// Item index i = m * N + pair (modality blocks, like the heatmap). regl's point index
// interleaves modalities pair by pair (r = pair * M + m) so no modality systematically
// hides another.
//
// Pair lines: all of them while N <= LINE_LIMIT pairs; above, only for the hovered pair
// (overlay) and the selected pairs (if at most LINE_LIMIT of them).
//
// Without WebGL the canvas-2D view (scatter_canvas_view.js) is used instead.

import createScatterplot, { createRenderer, createSpatialIndex } from "regl-scatterplot";
import { CanvasScatterView } from "./scatter_canvas_view.js";
import { ClickGate, selectPairOnClick } from "./clicks.js";
import { BACKGROUND, drawAxes, renderLegend } from "./scatter_frame.js";
import { h, sizeCanvas, now, placeTip } from "./util.js";
import {
  HIGHLIGHT_LIMIT, HIT_GRID_CELLS, HIT_RADIUS_PX, LINE_LIMIT, POINT_ALPHA, POINT_SIZE_PX, TRANSITION_LIMIT, TRANSITION_MS,
  byCount, lineAlpha, selectedLineAlpha,
} from "./sizes.js";

const PAD = { left: 44, right: 12, top: 12, bottom: 34 };
const HIT_RADIUS = HIT_RADIUS_PX;
const GRID = HIT_GRID_CELLS;

let sharedRenderer = null;
let webglChecked = null;

/** True when a WebGL context with the float textures regl-scatterplot needs can be made. */
export function webglAvailable() {
  if (webglChecked !== null) return webglChecked;
  try {
    const canvas = document.createElement("canvas");
    const gl = canvas.getContext("webgl") || canvas.getContext("experimental-webgl");
    webglChecked = !!(gl && gl.getExtension("OES_texture_float"));
  } catch (err) {
    webglChecked = false;
  }
  return webglChecked;
}

let emptyIndex = null;

/** The ArrayBuffer of a KDBush index of no points (made once per page). */
function emptySpatialIndex() {
  if (!emptyIndex) emptyIndex = createSpatialIndex([], false);
  return emptyIndex;
}

function renderer() {
  if (!sharedRenderer) sharedRenderer = createRenderer();
  return sharedRenderer;
}

/** A linear scale with the d3-scale methods regl-scatterplot calls. */
function linearScale(domain = [0, 1], range = [0, 1]) {
  let d = [...domain];
  let r = [...range];
  const scale = (x) => r[0] + ((x - d[0]) / (d[1] - d[0])) * (r[1] - r[0]);
  scale.domain = (v) => (v === undefined ? [...d] : ((d = [...v]), scale));
  scale.range = (v) => (v === undefined ? [...r] : ((r = [...v]), scale));
  scale.invert = (y) => d[0] + ((y - r[0]) / (r[1] - r[0])) * (d[1] - d[0]);
  scale.copy = () => linearScale(d, r);
  return scale;
}

function hexRgba(color, alpha = 1) {
  const v = parseInt(String(color).slice(1, 7), 16);
  return [((v >> 16) & 255) / 255, ((v >> 8) & 255) / 255, (v & 255) / 255, alpha];
}

export class ScatterView {
  /**
   * @param {HTMLElement} host
   * @param {object} opts {onHover(info|null), onSelect(pairs:number[]), fetchText(pair) -> Promise<string>,
   *   maxSide, minSide}
   */
  constructor(host, opts = {}) {
    if (opts.webgl === false || !webglAvailable()) {
      // eslint-disable-next-line no-constructor-return
      return new CanvasScatterView(host, opts);
    }
    this.opts = opts;
    this.root = h("div", { class: "amumo-scatter-view", "data-renderer": "webgl" });
    this.stage = h("div", { class: "amumo-stage" });
    this.base = h("canvas", { class: "amumo-base" });
    this.gl = h("canvas", { class: "amumo-gl" });
    this.overlay = h("canvas", { class: "amumo-overlay", style: { pointerEvents: "none" } });
    this.legend = h("div", { class: "amumo-legend" });
    this.tooltip = h("div", { class: "amumo-tooltip", hidden: true });
    this.busy = h("div", { class: "amumo-busy", hidden: true });
    this.status = h("div", { class: "amumo-statusline" });
    this.stage.append(this.base, this.gl, this.overlay, this.legend, this.tooltip, this.busy);
    this.root.append(this.stage, this.status);
    host.append(this.root);
    this.data = null;
    this.mode = "box";
    this.window = null; // visible data window {x0, x1, y0, y1}
    this.norm = null; // data -> NDC: {x0, x1, y0, y1} maps to [-1, 1]
    this.hoverItem = -1;
    this.linked = null;
    this.selected = SortedPairs.empty();
    this.selectionShape = null;
    this.shape = null;
    this.mouse = [0, 0];
    this.drawToken = 0;
    this.plot = 0;
    this.xScale = linearScale([-1, 1], [0, 1]);
    this.yScale = linearScale([-1, 1], [1, 0]);
    this.sp = null; // created after the first frame (_scheduleGl)
    this._bindPointer();
    this.resizeObserver = new ResizeObserver(() => this.layout());
    this.resizeObserver.observe(this.root);
  }

  dispose() {
    this.resizeObserver.disconnect();
    this.disposed = true;
    if (this.sp) this.sp.destroy();
    this.sp = null;
  }

  /**
   * Start WebGL after the widget's first frame: creating the context and compiling the
   * shaders takes ~0.3 s in software WebGL, and the rest of the widget (axes, heatmap,
   * panels) need not wait for it. The points are uploaded as soon as it is ready.
   */
  _scheduleGl() {
    if (this.glScheduled) return;
    this.glScheduled = true;
    requestAnimationFrame(() => setTimeout(() => {
      if (this.disposed) return;
      const t0 = now();
      this._createPlot();
      this.root.dataset.glInitMs = (now() - t0).toFixed(1);
      if (this.data) this._upload({ transition: false, resetCamera: true });
    }, 0));
  }

  _createPlot() {
    const side = this.plot || 300;
    sizeGlCanvas(this.gl, side);
    this.sp = createScatterplot({
      renderer: renderer(),
      canvas: this.gl,
      width: side,
      height: side,
      syncEvents: true,
      xScale: this.xScale,
      yScale: this.yScale,
      backgroundColor: hexRgba(BACKGROUND),
      pointColor: ["#3b6fb6"],
      pointColorHover: "#e11d48",
      pointColorActive: "#111827",
      pointSize: 6,
      pointSizeSelected: 0,
      pointOutlineWidth: 2,
      opacityInactiveMax: 0.18,
      colorBy: "valueA",
      // Box and lasso are drawn here (pointer events): JupyterLab's notebook swallows the
      // shift-drag mouse events regl-scatterplot's own lasso listens to.
      actionKeyMap: {},
      mouseMode: "panZoom",
      deselectOnDblClick: false,
      deselectOnEscape: false,
      showReticle: false,
      spatialIndexUseWorker: false, // (the index given to draw() is empty, see _upload)
    });
    // Hover is answered here from a grid index (regl-scatterplot's own hover would redraw
    // every point on each change: ~0.3 s per hover at 400k points in software WebGL; it is
    // given an empty spatial index, see _upload).
    this.sp.subscribe("view", () => this._onView());
    // dom-2d-camera reserves alt-drag for rotation (no pan while alt is down); alt-drag is
    // this view's pan gesture, so move that reservation to a key the view does not use.
    const camera = this.sp.get("camera");
    if (camera && camera.config) camera.config({ mouseDownMoveModKey: "ctrl" });
  }

  // ---------------------------------------------------------------- index maps
  /** regl point index -> item index. */
  _item(r) {
    const d = this.data;
    return (r % d.M) * d.N + Math.floor(r / d.M);
  }

  /** item index -> regl point index. */
  _point(i) {
    const d = this.data;
    return (i % d.N) * d.M + Math.floor(i / d.N);
  }

  // ---------------------------------------------------------------- data
  /**
   * @param {object} data {xy: Float32Array(n*2), N, modalities, codes: Uint8Array|Uint16Array(n),
   *   palette: [css], legend: [{label, color}] | {continuous...}, showLines, xLabel, yLabel, texts, pairIds,
   *   sample: Int32Array of the shown pairs drawn (max_points) or empty for all}
   * Inside the view, pair k is the k-th drawn pair; `shown(k)` is its index among the shown
   * pairs (what the link bus, texts and pair ids use).
   */
  setData(data) {
    const old = this.data;
    const d = { ...data };
    d.M = d.modalities.length;
    d.sample = data.sample && data.sample.length ? data.sample : null;
    d.Nshown = data.N;
    d.N = d.sample ? d.sample.length : data.N;
    d.n = d.M * d.N;
    if (!(d.xy && d.xy.length >= d.n * 2)) d.xy = new Float32Array(d.n * 2);
    this.data = d;
    let sum = 0;
    for (let i = 0; i < d.xy.length; i += Math.max(1, Math.floor(d.xy.length / 512))) sum += d.xy[i] * (1 + (i % 7));
    this.root.dataset.xySum = sum.toFixed(6);
    this.root.dataset.n = String(d.n);
    const sameShape = old && old.n === d.n && old.M === d.M;
    if (!sameShape) {
      this.selected = SortedPairs.empty();
      this.selectionShape = null;
      this.hoverItem = -1;
      this.userView = false;
    }
    const keepView = sameShape && this.userView;
    if (!keepView) this.norm = fitNorm(d.xy, d.n);
    this._renderLegend();
    if (!this.plot) this.layout();
    const moved = sameShape && old.xy !== d.xy;
    const recoloured = !sameShape || old.codes !== d.codes || old.palette !== d.palette;
    this._upload({ transition: moved && d.n <= TRANSITION_LIMIT, resetCamera: !keepView, moved, recoloured });
  }

  /** Send points to the GPU: NDC coordinates, interleaved by pair, with colour codes. */
  _upload({ transition = false, resetCamera = true, moved = true } = {}) {
    const d = this.data;
    const sp = this.sp;
    if (!d) return;
    const nx0 = this.norm;
    if (resetCamera) {
      this.xScale = linearScale([nx0.x0, nx0.x1], [0, 1]);
      this.yScale = linearScale([nx0.y0, nx0.y1], [1, 0]);
    }
    if (!sp) {
      this._drawStatus();
      this.window = this._visibleWindow();
      this.drawBase(); // axes of the fitted view while WebGL starts
      this._scheduleGl();
      return;
    }
    const t0 = now();
    const token = ++this.drawToken;
    const { n, N, M } = d;
    const nx = this.norm;
    const sx = 2 / (nx.x1 - nx.x0), sy = 2 / (nx.y1 - nx.y0);
    const x = new Float32Array(n), y = new Float32Array(n), z = new Float32Array(n);
    const codes = d.codes && d.codes.length >= n ? d.codes : null;
    const palette = d.palette && d.palette.length ? d.palette : ["#4c78a8"];
    const P = palette.length;
    for (let p = 0, r = 0; p < N; p++) {
      for (let m = 0; m < M; m++, r++) {
        const i = m * N + p;
        x[r] = (d.xy[2 * i] - nx.x0) * sx - 1;
        y[r] = (d.xy[2 * i + 1] - nx.y0) * sy - 1;
        z[r] = codes ? codes[i] % P : m % P;
      }
    }
    this.ndc = { x, y };
    this.grid = buildGrid(x, y, GRID);
    const alpha = byCount(POINT_ALPHA, n);
    sp.set({
      pointColor: palette.map((c) => hexRgba(c, alpha)),
      pointColorActive: palette.map((c) => hexRgba(c, 1)),
      pointColorHover: palette.map((c) => hexRgba(c, 1)),
      pointSize: this.pointSize(),
    });
    if (resetCamera) {
      // regl-scatterplot reads a scale's domain when the scale is set: new scales, fitted view.
      sp.reset({ preventEvent: true });
      sp.set({ xScale: this.xScale, yScale: this.yScale });
    }
    this.root.dataset.drawn = "false";
    this.transitioning = transition;
    this.hoverItem = -1;
    this.tooltip.hidden = true;
    this._drawStatus();
    const selectedPoints = this._selectedPoints();
    const done = () => {
      if (token !== this.drawToken || this.disposed) return;
      this.transitioning = false;
      if (selectedPoints.length) sp.select(selectedPoints, { preventEvent: true });
      this.window = this._visibleWindow();
      this.drawBase();
      this.drawOverlay();
      this.root.dataset.drawMs = (now() - t0).toFixed(1);
      this.root.dataset.drawnAt = String(Date.now());
      this.root.dataset.drawn = "true";
    };
    // Lines follow the points only once they arrive (not during a transition).
    if (transition && moved) this.drawBase(true);
    // regl-scatterplot's own KDBush index serves only its hover and lasso, which this view
    // replaces (grid index, rasterised lasso): an empty index saves building one over
    // every point (~1-2 s at 2M points) and its memory.
    emptySpatialIndex()
      .then((spatialIndex) => sp.draw({ x, y, z }, {
        transition,
        transitionDuration: TRANSITION_MS,
        preventFilterReset: !resetCamera,
        zDataType: "categorical",
        spatialIndex,
      }))
      .then(done, (err) => this.setBusy(`drawing failed: ${err}`));
  }

  pointSize() {
    const n = this.data ? this.data.n : 0;
    return byCount(POINT_SIZE_PX, n);
  }

  setBusy(text) {
    this.busy.hidden = !text;
    this.busy.textContent = text || "";
    this.root.dataset.busy = text ? "true" : "false";
  }

  /** Shown pair index of drawn pair k. */
  _shown(k) {
    const d = this.data;
    return d.sample ? d.sample[k] : k;
  }

  /** Drawn pair index of shown pair p (-1 when p is not in the drawn sample). */
  _drawn(p) {
    const d = this.data;
    if (!d.sample) return p >= 0 && p < d.N ? p : -1;
    if (!d.inverse) {
      d.inverse = new Int32Array(d.Nshown).fill(-1);
      d.sample.forEach((pair, k) => (d.inverse[pair] = k));
    }
    return p >= 0 && p < d.Nshown ? d.inverse[p] : -1;
  }

  setLinked(linked) {
    const d = this.data;
    if (linked && d && d.sample) {
      // Hub items are m * shown N + shown pair: to this view's drawn indices.
      const items = [];
      for (const i of linked.items || []) {
        const k = this._drawn(i % d.Nshown);
        if (k >= 0) items.push(Math.floor(i / d.Nshown) * d.N + k);
      }
      linked = { ...linked, items };
    }
    this.linked = linked;
    this.drawOverlay();
  }

  setSelection(pairs) {
    if (this.data && this.data.sample) pairs = (pairs || []).map((p) => this._drawn(p)).filter((k) => k >= 0);
    this.selected = SortedPairs.from(pairs || []);
    this.selectionShape = null;
    this._highlight();
    this._drawStatus();
    this.drawBase();
    this.drawOverlay();
  }

  /** Highlight the selected points in WebGL (or, for very many, outline their region). */
  _highlight() {
    if (!this.sp || !this.data) return;
    const points = this._selectedPoints();
    if (points.length) this.sp.select(points, { preventEvent: true });
    else this.sp.deselect({ preventEvent: true });
  }

  /** regl point indices of the selected pairs; [] when none or above HIGHLIGHT_LIMIT. */
  _selectedPoints() {
    const d = this.data;
    if (!d || !this.selected.size || this.selected.size * d.M > HIGHLIGHT_LIMIT) return [];
    const out = [];
    for (const p of this.selected) {
      if (p < 0 || p >= d.N) continue;
      for (let m = 0; m < d.M; m++) out.push(p * d.M + m);
    }
    return out;
  }

  setMode(mode) {
    this.mode = mode;
    this.gl.style.cursor = mode === "pan" ? "grab" : "crosshair";
  }

  resetView() {
    this.userView = false;
    if (this.sp) this.sp.reset();
  }

  layout() {
    const width = this.root.clientWidth || this.opts.width || 480;
    const maxSide = this.opts.maxSide || 620;
    const minSide = this.opts.minSide || 200;
    const plot = Math.max(minSide, Math.min(maxSide, Math.floor(width - PAD.left - PAD.right)));
    const resized = plot !== this.plot;
    this.W = PAD.left + plot + PAD.right;
    this.H = PAD.top + plot + PAD.bottom;
    this.plot = plot;
    this.stage.style.width = `${this.W}px`;
    this.stage.style.height = `${this.H}px`;
    this.root.dataset.geometry = JSON.stringify({ left: PAD.left, top: PAD.top, plot });
    this.bctx = sizeCanvas(this.base, this.W, this.H);
    this.octx = sizeCanvas(this.overlay, this.W, this.H);
    this.gl.style.left = `${PAD.left}px`;
    this.gl.style.top = `${PAD.top}px`;
    if (resized && this.sp) {
      sizeGlCanvas(this.gl, plot);
      this.sp.set({ width: plot, height: plot });
    }
    this.window = this._visibleWindow();
    this.drawBase();
    this.drawOverlay();
  }

  // ---------------------------------------------------------------- geometry
  _visibleWindow() {
    const [x0, x1] = this.xScale.domain();
    const [y0, y1] = this.yScale.domain();
    return { x0, x1, y0, y1 };
  }

  _onView() {
    this.window = this._visibleWindow();
    if (this.dragging || this.wheeling) this.userView = true;
    this.drawBase();
    this.drawOverlay();
  }

  /** Screen position (stage pixels) of item i. */
  _screen(i) {
    const d = this.data, v = this.window;
    const x = d.xy[2 * i], y = d.xy[2 * i + 1];
    return [
      PAD.left + ((x - v.x0) / (v.x1 - v.x0)) * this.plot,
      PAD.top + this.plot - ((y - v.y0) / (v.y1 - v.y0)) * this.plot,
    ];
  }

  /** Stage pixels -> data coordinates of the current view. */
  _toData(px, py) {
    const v = this.window;
    return [
      v.x0 + ((px - PAD.left) / this.plot) * (v.x1 - v.x0),
      v.y0 + ((PAD.top + this.plot - py) / this.plot) * (v.y1 - v.y0),
    ];
  }

  /**
   * Pairs with an item inside the shape (a box or a lasso polygon in stage pixels): the
   * shape goes to data coordinates once, then one pass over the points with a bounding-box
   * test before the polygon test.
   */
  _pairsIn(shape) {
    const d = this.data;
    const poly = shape.kind === "box"
      ? [[shape.x0, shape.y0], [shape.x1, shape.y0], [shape.x1, shape.y1], [shape.x0, shape.y1]]
      : shape.points;
    const flat = new Float64Array(poly.length * 2);
    let ax = Infinity, bx = -Infinity, ay = Infinity, by = -Infinity;
    poly.forEach(([px, py], k) => {
      const [x, y] = this._toData(px, py);
      flat[2 * k] = x;
      flat[2 * k + 1] = y;
      if (x < ax) ax = x;
      if (x > bx) bx = x;
      if (y < ay) ay = y;
      if (y > by) by = y;
    });
    const isBox = shape.kind === "box";
    // A lasso is rasterised once at screen resolution: one lookup per point, whatever the
    // number of vertices (an exact even-odd test costs a pass over every edge per point).
    const S = this.plot, v = this.window;
    const mask = isBox ? null : polygonMask(shape.points, PAD.left, PAD.top, S);
    const kx = S / (v.x1 - v.x0), ky = S / (v.y1 - v.y0);
    const hit = new Uint8Array(d.N);
    const xy = d.xy;
    let count = 0;
    for (let i = 0; i < d.n; i++) {
      const x = xy[2 * i], y = xy[2 * i + 1];
      if (x < ax || x > bx || y < ay || y > by) continue;
      let inside = isBox;
      if (!isBox) {
        const col = Math.floor((x - v.x0) * kx), row = Math.floor(S - (y - v.y0) * ky);
        inside = mask
          ? col >= 0 && col < S && row >= 0 && row < S && mask[row * S + col] === 1
          : insidePolygon(x, y, flat);
      }
      if (inside) {
        const p = i % d.N;
        if (!hit[p]) { hit[p] = 1; count++; }
      }
    }
    const list = new Int32Array(count);
    for (let p = 0, k = 0; p < d.N; p++) if (hit[p]) list[k++] = p;
    return new SortedPairs(list);
  }

  // ---------------------------------------------------------------- drawing
  /** Background, grid, ticks, labels and pair lines (under the points). */
  drawBase(hideLines = false) {
    const ctx = this.bctx;
    const d = this.data;
    if (!ctx) return;
    ctx.clearRect(0, 0, this.W, this.H);
    this._drawAxes(ctx);
    if (this.window) this.root.dataset.window = JSON.stringify(this.window);
    if (!d || !this.window || hideLines || this.transitioning) return;
    if (!d.showLines || d.M < 2) return;
    const all = d.N <= LINE_LIMIT;
    const selected = this.selected.size > 0 && this.selected.size <= LINE_LIMIT;
    if (!all && !selected) return;
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, PAD.top, this.plot, this.plot);
    ctx.clip();
    const drawPairs = (pairs) => {
      ctx.beginPath();
      for (const p of pairs) {
        if (p < 0 || p >= d.N) continue;
        const [x, y] = this._screen(p);
        ctx.moveTo(x, y);
        for (let m = 1; m < d.M; m++) {
          const [xm, ym] = this._screen(m * d.N + p);
          ctx.lineTo(xm, ym);
        }
      }
      ctx.stroke();
    };
    if (all) {
      const alpha = lineAlpha(d.N);
      ctx.strokeStyle = `rgba(55,65,81,${(selected ? alpha / 3 : alpha).toFixed(3)})`;
      ctx.lineWidth = 0.7;
      drawPairs(rangeOf(d.N));
    }
    if (selected) {
      ctx.strokeStyle = `rgba(31,41,55,${selectedLineAlpha(this.selected.size).toFixed(3)})`;
      ctx.lineWidth = 0.9;
      drawPairs(this.selected);
    }
    ctx.restore();
  }

  _drawStatus() {
    const d = this.data;
    if (!d) return;
    const parts = [`${d.n.toLocaleString()} points`];
    if (d.sample) {
      parts.push(`a seeded sample of ${d.N.toLocaleString()} of ${d.Nshown.toLocaleString()} pairs (max_points); selections pick among them`);
    }
    if (d.showLines && d.M > 1 && d.N > LINE_LIMIT) {
      parts.push(`pair lines for hovered${this.selected.size && this.selected.size <= LINE_LIMIT ? " and selected" : ""} pairs (over ${LINE_LIMIT.toLocaleString()} pairs)`);
    }
    const k = this.selected.size;
    if (k) {
      const region = k * d.M > HIGHLIGHT_LIMIT ? (this.selectionShape ? " (outlined: too many to mark one by one)" : " (too many to mark one by one)") : "";
      parts.push(`${k.toLocaleString()} pair${k === 1 ? "" : "s"} selected${region}`);
    }
    this.status.textContent = parts.join(" · ");
  }

  _drawAxes(ctx) {
    drawAxes(ctx, PAD.left, PAD.top, this.plot, this.data, this.window);
  }

  _renderLegend() {
    renderLegend(this.legend, this.data.legend || []);
  }

  /** Hovered or linked pair (line + rings) and the box being dragged. */
  drawOverlay() {
    const ctx = this.octx;
    if (!ctx) return;
    ctx.clearRect(0, 0, this.W, this.H);
    const d = this.data;
    if (!d || !this.window || this.transitioning) return this._drawShape(ctx);
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, PAD.top, this.plot, this.plot);
    ctx.clip();
    const items = new Set();
    const pairs = new Set();
    if (this.hoverItem >= 0) {
      items.add(this.hoverItem);
      pairs.add(this.hoverItem % d.N);
    } else if (this.linked) {
      for (const i of this.linked.items || []) {
        if (i < 0 || i >= d.n) continue;
        items.add(i);
        pairs.add(i % d.N);
      }
    }
    for (const p of pairs) {
      const pts = d.modalities.map((_, m) => this._screen(m * d.N + p));
      if (d.M > 1) {
        ctx.strokeStyle = "rgba(17,24,39,0.85)";
        ctx.lineWidth = 2;
        ctx.beginPath();
        pts.forEach(([x, y], m) => (m ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
        ctx.stroke();
      }
      pts.forEach(([x, y], m) => {
        const i = m * d.N + p;
        const focus = items.has(i);
        ctx.beginPath();
        ctx.arc(x, y, focus ? 7.5 : 5.5, 0, Math.PI * 2);
        ctx.fillStyle = colorOf(d, i);
        ctx.fill();
        ctx.lineWidth = focus ? 2.5 : 1.5;
        ctx.strokeStyle = focus ? "#e11d48" : "#111827";
        ctx.stroke();
      });
    }
    ctx.restore();
    this._drawShape(ctx);
  }

  _drawShape(ctx) {
    const d = this.data;
    const big = d && this.selected.size * d.M > HIGHLIGHT_LIMIT;
    const shape = this.shape || (big ? this.selectionShape : null);
    if (!shape) return;
    ctx.fillStyle = "rgba(37,99,235,0.10)";
    ctx.strokeStyle = "rgba(37,99,235,0.9)";
    ctx.lineWidth = 1.2;
    ctx.setLineDash([5, 3]);
    ctx.beginPath();
    if (shape.kind === "box") {
      ctx.rect(shape.x0, shape.y0, shape.x1 - shape.x0, shape.y1 - shape.y0);
    } else {
      shape.points.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.closePath();
    }
    ctx.fill();
    ctx.stroke();
    ctx.setLineDash([]);
  }

  // ---------------------------------------------------------------- pointer
  _bindPointer() {
    const stage = this.stage;
    const local = (event) => {
      const rect = this.overlay.getBoundingClientRect();
      return [event.clientX - rect.left, event.clientY - rect.top];
    };
    const onGl = (event) => event.target === this.gl;
    let drag = null;
    let suppressClick = false;
    const clicks = new ClickGate();
    this.clicks = clicks;
    // Capture phase: runs before regl-scatterplot's own handlers on the canvas / window.
    stage.addEventListener("pointermove", (event) => {
      this.moveT0 = event.timeStamp > 0 ? Math.min(now(), event.timeStamp) : now();
      this.handlerStart = now();
      this.mouse = local(event);
      if (this.dragging && this.downAt && Math.abs(this.mouse[0] - this.downAt[0]) + Math.abs(this.mouse[1] - this.downAt[1]) > 3) {
        suppressClick = true; // a drag (pan, box, lasso) that may end where it began is no click
      }
      if (drag) {
        const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
        const px = clamp(this.mouse[0], PAD.left, PAD.left + this.plot);
        const py = clamp(this.mouse[1], PAD.top, PAD.top + this.plot);
        if (Math.abs(px - drag.px) + Math.abs(py - drag.py) > 3) drag.moved = true;
        if (!drag.moved) return;
        if (drag.kind === "box") {
          this.shape = { kind: "box", x0: Math.min(drag.px, px), y0: Math.min(drag.py, py), x1: Math.max(drag.px, px), y1: Math.max(drag.py, py) };
        } else {
          const last = drag.points[drag.points.length - 1];
          if (Math.abs(px - last[0]) + Math.abs(py - last[1]) >= 2) drag.points.push([px, py]);
          this.shape = { kind: "lasso", points: drag.points };
        }
        this.drawOverlay();
      } else if (!this.dragging && event.buttons === 0) {
        this._setHover(this.nearest(...this.mouse), ...this.mouse, this.moveT0);
      }
    }, true);
    // regl-scatterplot also hears every move (its camera needs them to pan); its own hover
    // finds nothing in the empty spatial index it is given, so it never redraws for one.
    stage.addEventListener("pointerdown", (event) => {
      if (!onGl(event) || !this.data || event.button !== 0) return;
      this.downAt = local(event);
      this.dragging = true;
      suppressClick = false;
      const pan = event.altKey || (this.mode === "pan" && !event.shiftKey);
      this._setHover(-1);
      if (pan) return; // regl-scatterplot's camera pans
      // No compatibility mouse events: regl-scatterplot does not pan, JupyterLab does not
      // start a cell selection.
      event.preventDefault();
      const [px, py] = this.downAt;
      const kind = this.mode === "lasso" || event.shiftKey ? "lasso" : "box";
      drag = { kind, px, py, moved: false, points: [[px, py]], add: kind === "box" && event.shiftKey };
      this.gl.setPointerCapture(event.pointerId);
      this._setHover(-1);
    }, true);
    stage.addEventListener("pointerup", (event) => {
      this.dragging = false;
      const up = local(event);
      if (this.downAt && Math.abs(up[0] - this.downAt[0]) + Math.abs(up[1] - this.downAt[1]) > 3) suppressClick = true;
      const wasDrag = drag;
      drag = null;
      if (!wasDrag || !wasDrag.moved) return;
      const shape = this.shape;
      this.shape = null;
      this.drawOverlay();
      if (shape) {
        const t0 = now();
        const pairs = this._pairsIn(shape);
        const add = wasDrag.add && this.selected.size;
        this._commitSelection(add ? new Set([...this.selected, ...pairs]) : pairs, add ? null : shape);
        this.root.dataset.selectMs = (now() - t0).toFixed(1);
        this.root.dataset.selectKind = shape.kind;
      }
    }, true);
    // Clicks select the pair under the pointer (shift adds / removes) or clear; regl's own
    // click-to-select is bypassed (it would select one point, not a pair).
    stage.addEventListener("click", (event) => {
      if (!onGl(event)) return;
      event.stopPropagation();
      if (suppressClick || !this.data) return;
      // Deferred (ClickGate): the clicks of a double-click (reset view) select nothing.
      clicks.click(selectPairOnClick(this, this.hoverItem, event.shiftKey));
    }, true);
    stage.addEventListener("dblclick", (event) => {
      if (!onGl(event)) return;
      clicks.dblclick();
      this.resetView();
    });
    stage.addEventListener("wheel", () => {
      this.wheeling = true;
      clearTimeout(this.wheelTimer);
      this.wheelTimer = setTimeout(() => (this.wheeling = false), 200);
    }, { capture: true, passive: true });
    stage.addEventListener("pointerleave", () => {
      if (!drag) this._setHover(-1);
    });
  }

  /** Nearest point (item index) within HIT_RADIUS pixels of stage position (px, py), or -1. */
  nearest(px, py) {
    const d = this.data, g = this.grid, nx = this.norm, v = this.window;
    if (!d || !g || !v || this.transitioning) return -1;
    if (px < PAD.left || px > PAD.left + this.plot || py < PAD.top || py > PAD.top + this.plot) return -1;
    const [dx, dy] = this._toData(px, py);
    const sx = 2 / (nx.x1 - nx.x0), sy = 2 / (nx.y1 - nx.y0);
    const mx = (dx - nx.x0) * sx - 1, my = (dy - nx.y0) * sy - 1;
    // Pixels per NDC unit along x and y in the current view.
    const kx = this.plot / ((v.x1 - v.x0) * sx), ky = this.plot / ((v.y1 - v.y0) * sy);
    const rx = HIT_RADIUS / kx, ry = HIT_RADIUS / ky;
    const G = g.size, cell = 2 / G;
    const cx0 = Math.max(0, Math.floor((mx - rx + 1) / cell)), cx1 = Math.min(G - 1, Math.floor((mx + rx + 1) / cell));
    const cy0 = Math.max(0, Math.floor((my - ry + 1) / cell)), cy1 = Math.min(G - 1, Math.floor((my + ry + 1) / cell));
    const { x, y } = this.ndc;
    let best = -1, bestD = HIT_RADIUS * HIT_RADIUS;
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const key = cy * G + cx;
        for (let k = g.start[key]; k < g.start[key + 1]; k++) {
          const r = g.items[k];
          const ex = (x[r] - mx) * kx, ey = (y[r] - my) * ky;
          const dd = ex * ex + ey * ey;
          if (dd < bestD) { bestD = dd; best = r; }
        }
      }
    }
    return best < 0 ? -1 : this._item(best);
  }

  /** A new selection from this view: highlight it, tell the bus (sorted pair indices). */
  _commitSelection(pairs, shape = null) {
    const t0 = now();
    this.selected = SortedPairs.from(pairs);
    this.selectionShape = shape;
    this._highlight(); // no-op until WebGL has started
    const t1 = now();
    this._drawStatus();
    this.drawBase();
    this.drawOverlay();
    const t2 = now();
    const list = this.selected.list;
    if (this.opts.onSelect) this.opts.onSelect(this.data.sample ? Array.from(list, (k) => this.data.sample[k]) : Array.from(list));
    const t3 = now();
    this.root.dataset.selectParts = [t1 - t0, t2 - t1, t3 - t2].map((v) => v.toFixed(1)).join(",");
  }

  _setHover(i, px = 0, py = 0, t0 = now()) {
    if (i === this.hoverItem) {
      if (i >= 0) this._placeTooltip(px, py);
      return;
    }
    this.hoverItem = i;
    this.drawOverlay();
    const d = this.data;
    if (i < 0 || !d) {
      this.tooltip.hidden = true;
      this.root.dataset.hovered = "-1";
      if (this.opts.onHover) this.opts.onHover(null);
      return;
    }
    const m = Math.floor(i / d.N), pair = this._shown(i % d.N);
    const id = d.pairIds ? d.pairIds[pair] : pair;
    const text = d.texts && d.texts[pair] ? d.texts[pair] : "";
    const row = h("div", { class: "amumo-tip-row", text });
    this.tooltip.replaceChildren(
      h("div", { class: "amumo-tip-head" }, h("span", { class: "amumo-swatch", style: { background: colorOf(d, i) } }), h("b", { text: `${d.modalities[m]} #${id}` })),
      row,
    );
    row.hidden = !text;
    if (!text && this.opts.fetchText && !(d.texts && d.texts.length)) {
      // Texts of very many pairs are not sent up front: ask the kernel for this one.
      this.opts.fetchText(pair).then((value) => {
        if (this.hoverItem === i && value) {
          row.textContent = value;
          row.hidden = false;
        }
      }, () => {});
    }
    this.tooltip.hidden = false;
    this.root.dataset.hovered = String(id);
    this._placeTooltip(px, py);
    if (this.opts.onHover) this.opts.onHover({ item: m * d.Nshown + pair, m, modality: d.modalities[m], pair, t0, start: this.handlerStart });
  }

  _placeTooltip(px, py) {
    placeTip(this.tooltip, px, py, this.W, this.H);
  }
}

function sizeGlCanvas(canvas, side) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(side * ratio);
  canvas.height = Math.round(side * ratio);
  canvas.style.width = `${side}px`;
  canvas.style.height = `${side}px`;
}

/** Data window mapped to NDC [-1, 1]: the bounding box plus 5 % on each side. */
function fitNorm(xy, n) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i], y = xy[2 * i + 1];
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  if (!(x1 > x0)) { x0 = (Number.isFinite(x0) ? x0 : 0) - 1; x1 = x0 + 2; }
  if (!(y1 > y0)) { y0 = (Number.isFinite(y0) ? y0 : 0) - 1; y1 = y0 + 2; }
  const px = (x1 - x0) * 0.05, py = (y1 - y0) * 0.05;
  return { x0: x0 - px, x1: x1 + px, y0: y0 - py, y1: y1 + py };
}

/** Selected pairs: a sorted Int32Array with Set-like size / has / iteration. */
class SortedPairs {
  constructor(list) {
    this.list = list;
    this.size = list.length;
  }

  static empty() {
    return new SortedPairs(new Int32Array(0));
  }

  /** From a SortedPairs, a Set or an array of pair indices (sorted, duplicates dropped). */
  static from(pairs) {
    if (pairs instanceof SortedPairs) return pairs;
    const list = Int32Array.from(pairs).sort();
    let k = 0;
    for (let i = 0; i < list.length; i++) if (i === 0 || list[i] !== list[i - 1]) list[k++] = list[i];
    return new SortedPairs(list.subarray(0, k));
  }

  has(p) {
    let lo = 0, hi = this.list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.list[mid] === p) return true;
      if (this.list[mid] < p) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  [Symbol.iterator]() {
    return this.list[Symbol.iterator]();
  }
}

/**
 * Uniform grid over NDC [-1, 1]²: points of cell c are items[start[c] .. start[c + 1]).
 * Built once per upload by a counting sort, O(n); points outside the fitted square (none
 * unless the view was kept) go to the border cells.
 */
function buildGrid(x, y, size) {
  const n = x.length;
  const cell = new Int32Array(n);
  const start = new Int32Array(size * size + 1);
  const clamp = (v) => (v < 0 ? 0 : v >= size ? size - 1 : v);
  for (let r = 0; r < n; r++) {
    const c = clamp(Math.floor(((y[r] + 1) / 2) * size)) * size + clamp(Math.floor(((x[r] + 1) / 2) * size));
    cell[r] = c;
    start[c + 1]++;
  }
  for (let c = 1; c < start.length; c++) start[c] += start[c - 1];
  const fill = start.slice(0, size * size);
  const items = new Int32Array(n);
  for (let r = 0; r < n; r++) items[fill[cell[r]]++] = r;
  return { size, start, items };
}

function* rangeOf(n) {
  for (let i = 0; i < n; i++) yield i;
}

function colorOf(d, i) {
  const palette = d.palette || ["#4c78a8"];
  const codes = d.codes && d.codes.length >= d.n ? d.codes : null;
  return palette[(codes ? codes[i] : Math.floor(i / d.N)) % palette.length];
}

/**
 * The polygon (stage pixels, offset by left/top) filled into a size x size mask (1 inside),
 * or null where no 2-D canvas is available (the caller then tests every edge).
 */
function polygonMask(points, left, top, size) {
  let canvas;
  try {
    canvas = typeof OffscreenCanvas !== "undefined" ? new OffscreenCanvas(size, size) : document.createElement("canvas");
    canvas.width = size;
    canvas.height = size;
  } catch (err) {
    return null;
  }
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) return null;
  ctx.fillStyle = "#000";
  ctx.beginPath();
  points.forEach(([x, y], k) => (k ? ctx.lineTo(x - left, y - top) : ctx.moveTo(x - left, y - top)));
  ctx.closePath();
  ctx.fill("evenodd");
  const rgba = ctx.getImageData(0, 0, size, size).data;
  const mask = new Uint8Array(size * size);
  for (let k = 0; k < mask.length; k++) mask[k] = rgba[4 * k + 3] > 127 ? 1 : 0;
  return mask;
}

/** Even-odd test of (x, y) against a polygon given as flat [x0, y0, x1, y1, ...]. */
function insidePolygon(x, y, flat) {
  let inside = false;
  const n = flat.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = flat[2 * i], yi = flat[2 * i + 1], xj = flat[2 * j], yj = flat[2 * j + 1];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
