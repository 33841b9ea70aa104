// CanvasScatterView (fallback when WebGL is unavailable): a 2-D projection of every item, a line per pair, hover, box/lasso selection.
//
// Canvas 2D with pre-rendered point sprites (one drawImage per point) so 10,000 points
// draw in a few milliseconds; a separate overlay canvas holds hover highlights and the
// selection shape, and a uniform grid over screen space answers "which point is here".
// Item index = m * N + pair (modality blocks, like the heatmap).

import { h, sizeCanvas, now, placeTip } from "./util.js";
import { ClickGate, selectPairOnClick } from "./clicks.js";
import { drawAxes, renderLegend } from "./scatter_frame.js";
import { CANVAS_POINT_RADIUS_PX, CANVAS_TRANSITION_MS, byCount } from "./sizes.js";

const PAD = { left: 44, right: 12, top: 12, bottom: 34 };
const HIT_RADIUS = 9;

export class CanvasScatterView {
  /**
   * @param {HTMLElement} host
   * @param {object} opts {onHover(info|null), onSelect(pairs:number[]), maxSide, minSide}
   */
  constructor(host, opts = {}) {
    this.opts = opts;
    this.root = h("div", { class: "amumo-scatter-view", "data-renderer": "canvas" });
    this.stage = h("div", { class: "amumo-stage" });
    this.base = h("canvas", { class: "amumo-base" });
    this.overlay = h("canvas", { class: "amumo-overlay" });
    this.legend = h("div", { class: "amumo-legend" });
    this.tooltip = h("div", { class: "amumo-tooltip", hidden: true });
    this.busy = h("div", { class: "amumo-busy", hidden: true });
    this.stage.append(this.base, this.overlay, this.legend, this.tooltip, this.busy);
    this.root.append(this.stage);
    host.append(this.root);
    this.data = null;
    this.mode = "box";
    this.view = null; // {x0, x1, y0, y1} data window
    this.screen = null; // Float32Array of screen coordinates (2 per item)
    this.hoverItem = -1;
    this.linked = null;
    this.selected = new Set();
    this.selectedItems = null;
    this.shape = null;
    this.sprites = new Map();
    this._bindPointer();
    this.resizeObserver = new ResizeObserver(() => this.layout());
    this.resizeObserver.observe(this.root);
  }

  dispose() {
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.anim);
  }

  /**
   * @param {object} data {xy: Float32Array(n*2), N, modalities, codes: Uint8Array(n), palette: [css],
   *   legend: [{label, color}] | {continuous...}, showLines, xLabel, yLabel, texts, pairIds}
   */
  setData(data) {
    const old = this.data;
    const d = { ...data };
    d.M = d.modalities.length;
    d.n = d.M * d.N;
    const valid = d.xy && d.xy.length >= d.n * 2;
    if (!valid) d.xy = new Float32Array(d.n * 2);
    this.data = d;
    let sum = 0;
    for (let i = 0; i < d.xy.length; i += Math.max(1, Math.floor(d.xy.length / 512))) sum += d.xy[i] * (1 + (i % 7));
    this.root.dataset.xySum = sum.toFixed(6);
    this.root.dataset.n = String(d.n);
    const sameShape = old && old.n === d.n;
    if (!sameShape) {
      this.view = null;
      this.selected = new Set();
    }
    this._fitView(sameShape && this.userView ? this.view : null);
    this._renderLegend();
    if (sameShape && old.xy !== d.xy && this.screen && this.opts.animate !== false) {
      this._animateFrom(old);
    } else {
      this.layout();
    }
  }

  setBusy(text) {
    this.busy.hidden = !text;
    this.busy.textContent = text || "";
  }

  setLinked(linked) {
    this.linked = linked;
    this.drawOverlay();
  }

  setSelection(pairs) {
    this.selected = new Set(pairs || []);
    this.draw();
  }

  setMode(mode) {
    this.mode = mode;
    this.overlay.style.cursor = mode === "pan" ? "grab" : "crosshair";
  }

  resetView() {
    this.userView = false;
    this._fitView(null);
    this.draw();
  }

  _fitView(keep) {
    const d = this.data;
    if (keep) return;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < d.n; i++) {
      const x = d.xy[2 * i], y = d.xy[2 * i + 1];
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
    if (!(y1 > y0)) { y0 -= 1; y1 += 1; }
    const px = (x1 - x0) * 0.05, py = (y1 - y0) * 0.05;
    this.view = { x0: x0 - px, x1: x1 + px, y0: y0 - py, y1: y1 + py };
  }

  layout() {
    const width = this.root.clientWidth || this.opts.width || 480;
    const maxSide = this.opts.maxSide || 620;
    const minSide = this.opts.minSide || 200;
    const plot = Math.max(minSide, Math.min(maxSide, Math.floor(width - PAD.left - PAD.right)));
    this.W = PAD.left + plot + PAD.right;
    this.H = PAD.top + plot + PAD.bottom;
    this.plot = plot;
    this.stage.style.width = `${this.W}px`;
    this.stage.style.height = `${this.H}px`;
    this.root.dataset.geometry = JSON.stringify({ left: PAD.left, top: PAD.top, plot });
    this.ctx = sizeCanvas(this.base, this.W, this.H);
    this.octx = sizeCanvas(this.overlay, this.W, this.H);
    this.draw();
  }

  // ---------------------------------------------------------------- geometry
  _project(xy, out) {
    const { x0, x1, y0, y1 } = this.view;
    const sx = this.plot / (x1 - x0), sy = this.plot / (y1 - y0);
    const n = this.data.n;
    for (let i = 0; i < n; i++) {
      out[2 * i] = PAD.left + (xy[2 * i] - x0) * sx;
      out[2 * i + 1] = PAD.top + this.plot - (xy[2 * i + 1] - y0) * sy;
    }
    return out;
  }

  _buildGrid() {
    const n = this.data.n;
    const cell = 16;
    const cols = Math.ceil(this.W / cell) + 1, rows = Math.ceil(this.H / cell) + 1;
    const counts = new Int32Array(cols * rows + 1);
    const keys = new Int32Array(n);
    const s = this.screen;
    for (let i = 0; i < n; i++) {
      const cx = Math.floor(s[2 * i] / cell), cy = Math.floor(s[2 * i + 1] / cell);
      const key = cx < 0 || cy < 0 || cx >= cols || cy >= rows ? -1 : cy * cols + cx;
      keys[i] = key;
      if (key >= 0) counts[key + 1]++;
    }
    for (let k = 1; k < counts.length; k++) counts[k] += counts[k - 1];
    const items = new Int32Array(n);
    const fill = counts.slice();
    for (let i = 0; i < n; i++) if (keys[i] >= 0) items[fill[keys[i]]++] = i;
    this.grid = { cell, cols, rows, start: counts, items };
  }

  nearest(px, py) {
    const g = this.grid;
    if (!g) return -1;
    const s = this.screen;
    let best = -1, bestD = HIT_RADIUS * HIT_RADIUS;
    const cx = Math.floor(px / g.cell), cy = Math.floor(py / g.cell);
    for (let y = cy - 1; y <= cy + 1; y++) {
      if (y < 0 || y >= g.rows) continue;
      for (let x = cx - 1; x <= cx + 1; x++) {
        if (x < 0 || x >= g.cols) continue;
        const key = y * g.cols + x;
        for (let k = g.start[key]; k < g.start[key + 1]; k++) {
          const i = g.items[k];
          const dx = s[2 * i] - px, dy = s[2 * i + 1] - py;
          const dd = dx * dx + dy * dy;
          if (dd < bestD) { bestD = dd; best = i; }
        }
      }
    }
    return best;
  }

  // ---------------------------------------------------------------- drawing
  _sprite(color, radius, alpha) {
    const key = `${color}|${radius}|${alpha}`;
    let sprite = this.sprites.get(key);
    if (sprite) return sprite;
    const ratio = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
    const size = Math.ceil((radius + 1.5) * 2 * ratio);
    const canvas = document.createElement("canvas");
    canvas.width = size;
    canvas.height = size;
    const c = canvas.getContext("2d");
    c.globalAlpha = alpha;
    c.beginPath();
    c.arc(size / 2, size / 2, radius * ratio, 0, Math.PI * 2);
    c.fillStyle = color;
    c.fill();
    c.lineWidth = 0.8 * ratio;
    c.strokeStyle = "rgba(255,255,255,0.85)";
    c.stroke();
    sprite = { canvas, size: size / ratio };
    this.sprites.set(key, sprite);
    return sprite;
  }

  radius() {
    const n = this.data ? this.data.n : 0;
    return byCount(CANVAS_POINT_RADIUS_PX, n);
  }

  draw(xy = null) {
    const ctx = this.ctx;
    const d = this.data;
    if (!ctx) return;
    ctx.clearRect(0, 0, this.W, this.H);
    this._drawAxes(ctx);
    if (!d || !this.view) return;
    if (!this.screen || this.screen.length !== d.n * 2) this.screen = new Float32Array(d.n * 2);
    const s = this._project(xy || d.xy, this.screen);
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, PAD.top, this.plot, this.plot);
    ctx.clip();
    const dim = this.selected.size > 0;
    if (d.showLines && d.M > 1) {
      // Fainter lines for more pairs, so thousands of them read as a band, not a wall.
      const alpha = Math.min(0.2, Math.max(0.035, 3.5 / Math.sqrt(d.N)));
      ctx.strokeStyle = `rgba(55,65,81,${(dim ? alpha / 3 : alpha).toFixed(3)})`;
      ctx.lineWidth = 0.7;
      ctx.beginPath();
      for (let p = 0; p < d.N; p++) {
        ctx.moveTo(s[2 * p], s[2 * p + 1]);
        for (let m = 1; m < d.M; m++) {
          const i = m * d.N + p;
          ctx.lineTo(s[2 * i], s[2 * i + 1]);
        }
      }
      ctx.stroke();
    }
    const r = this.radius();
    const palette = d.palette || ["#4c78a8"];
    const sprites = palette.map((color) => this._sprite(color, r, dim ? 0.18 : 0.85));
    const codes = d.codes && d.codes.length >= d.n ? d.codes : null;
    // Interleave modalities pair by pair so no modality systematically hides another.
    const stride = d.M;
    for (let p = 0; p < d.N; p++) {
      for (let m = 0; m < stride; m++) {
        const i = m * d.N + p;
        const sp = sprites[codes ? codes[i] % sprites.length : m % sprites.length];
        ctx.drawImage(sp.canvas, s[2 * i] - sp.size / 2, s[2 * i + 1] - sp.size / 2, sp.size, sp.size);
      }
    }
    if (dim) {
      const strong = palette.map((color) => this._sprite(color, r + 0.6, 1));
      if (d.showLines && d.M > 1) {
        ctx.strokeStyle = d.N > 200 ? "rgba(31,41,55,0.25)" : "rgba(31,41,55,0.45)";
        ctx.lineWidth = 0.9;
        ctx.beginPath();
        for (const p of this.selected) {
          if (p < 0 || p >= d.N) continue;
          ctx.moveTo(s[2 * p], s[2 * p + 1]);
          for (let m = 1; m < d.M; m++) ctx.lineTo(s[2 * (m * d.N + p)], s[2 * (m * d.N + p) + 1]);
        }
        ctx.stroke();
      }
      for (const p of this.selected) {
        if (p < 0 || p >= d.N) continue;
        for (let m = 0; m < d.M; m++) {
          const i = m * d.N + p;
          const sp = strong[codes ? codes[i] % strong.length : m % strong.length];
          ctx.drawImage(sp.canvas, s[2 * i] - sp.size / 2, s[2 * i + 1] - sp.size / 2, sp.size, sp.size);
        }
      }
    }
    ctx.restore();
    if (!xy) this._buildGrid();
    this.drawOverlay();
  }

  _drawAxes(ctx) {
    drawAxes(ctx, PAD.left, PAD.top, this.plot, this.data, this.view);
  }

  _renderLegend() {
    renderLegend(this.legend, this.data.legend || []);
  }

  drawOverlay() {
    const ctx = this.octx;
    if (!ctx) return;
    ctx.clearRect(0, 0, this.W, this.H);
    const d = this.data;
    if (!d || !this.screen) return;
    const s = this.screen;
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
        items.add(i);
        pairs.add(i % d.N);
      }
    }
    for (const p of pairs) {
      ctx.strokeStyle = "rgba(17,24,39,0.85)";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(s[2 * p], s[2 * p + 1]);
      for (let m = 1; m < d.M; m++) ctx.lineTo(s[2 * (m * d.N + p)], s[2 * (m * d.N + p) + 1]);
      ctx.stroke();
      for (let m = 0; m < d.M; m++) {
        const i = m * d.N + p;
        const focus = items.has(i);
        ctx.beginPath();
        ctx.arc(s[2 * i], s[2 * i + 1], focus ? 7.5 : 5.5, 0, Math.PI * 2);
        ctx.fillStyle = colorOf(d, i);
        ctx.fill();
        ctx.lineWidth = focus ? 2.5 : 1.5;
        ctx.strokeStyle = focus ? "#e11d48" : "#111827";
        ctx.stroke();
      }
    }
    ctx.restore();
    const shape = this.shape;
    if (shape) {
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
  }

  _animateFrom(old) {
    cancelAnimationFrame(this.anim);
    const d = this.data;
    const from = old.xy, to = d.xy;
    const tmp = new Float32Array(to.length);
    const start = now();
    const duration = byCount(CANVAS_TRANSITION_MS, d.n);
    const step = () => {
      const t = Math.min(1, (now() - start) / duration);
      const e = t < 0.5 ? 2 * t * t : 1 - Math.pow(-2 * t + 2, 2) / 2;
      for (let k = 0; k < to.length; k++) tmp[k] = from[k] + (to[k] - from[k]) * e;
      if (t < 1) {
        this.draw(tmp);
        this.anim = requestAnimationFrame(step);
      } else {
        this.draw();
      }
    };
    if (!this.ctx) this.layout();
    step();
  }

  // ---------------------------------------------------------------- pointer
  _bindPointer() {
    const target = this.overlay;
    const clicks = new ClickGate();
    const local = (event) => {
      const rect = target.getBoundingClientRect();
      return [event.clientX - rect.left, event.clientY - rect.top];
    };
    let drag = null;
    target.addEventListener("pointerdown", (event) => {
      if (!this.data) return;
      const [px, py] = local(event);
      target.setPointerCapture(event.pointerId);
      const mode = event.shiftKey ? "lasso" : event.altKey ? "pan" : this.mode;
      drag = { mode, px, py, view: { ...this.view }, moved: false, points: [[px, py]] };
      this._setHover(-1);
    });
    target.addEventListener("pointermove", (event) => {
      const t0 = event.timeStamp > 0 ? Math.min(now(), event.timeStamp) : now();
      this.handlerStart = now();
      const [px, py] = local(event);
      if (drag) {
        if (Math.abs(px - drag.px) + Math.abs(py - drag.py) > 3) drag.moved = true;
        if (!drag.moved) return;
        if (drag.mode === "pan") {
          const v = drag.view;
          const dx = ((px - drag.px) / this.plot) * (v.x1 - v.x0);
          const dy = ((py - drag.py) / this.plot) * (v.y1 - v.y0);
          this.view = { x0: v.x0 - dx, x1: v.x1 - dx, y0: v.y0 + dy, y1: v.y1 + dy };
          this.userView = true;
          this.draw();
        } else if (drag.mode === "box") {
          this.shape = { kind: "box", x0: Math.min(drag.px, px), y0: Math.min(drag.py, py), x1: Math.max(drag.px, px), y1: Math.max(drag.py, py) };
          this.drawOverlay();
        } else {
          drag.points.push([px, py]);
          this.shape = { kind: "lasso", points: drag.points };
          this.drawOverlay();
        }
        return;
      }
      const i = this.nearest(px, py);
      this._setHover(i, px, py, t0);
    });
    target.addEventListener("pointerup", (event) => {
      const wasDrag = drag;
      drag = null;
      if (!wasDrag) return;
      const [px, py] = local(event);
      if (!wasDrag.moved) {
        // A click: select the pair under the pointer (shift adds), or clear; deferred so
        // that the clicks of a double-click (reset view) select nothing (ClickGate).
        clicks.click(selectPairOnClick(this, this.nearest(px, py), event.shiftKey));
        return;
      }
      if (wasDrag.mode === "box" || wasDrag.mode === "lasso") {
        const shape = this.shape;
        this.shape = null;
        if (shape) this._commitSelection(this._pairsIn(shape), event.shiftKey && wasDrag.mode === "box");
        else this.drawOverlay();
      }
    });
    target.addEventListener("pointerleave", () => {
      if (!drag) this._setHover(-1);
    });
    target.addEventListener(
      "wheel",
      (event) => {
        if (!this.data) return;
        event.preventDefault();
        const [px, py] = local(event);
        const v = this.view;
        const fx = v.x0 + ((px - PAD.left) / this.plot) * (v.x1 - v.x0);
        const fy = v.y0 + ((PAD.top + this.plot - py) / this.plot) * (v.y1 - v.y0);
        const k = Math.pow(1.0015, event.deltaY);
        this.view = { x0: fx - (fx - v.x0) * k, x1: fx + (v.x1 - fx) * k, y0: fy - (fy - v.y0) * k, y1: fy + (v.y1 - fy) * k };
        this.userView = true;
        this.draw();
      },
      { passive: false },
    );
    target.addEventListener("dblclick", () => {
      clicks.dblclick();
      this.resetView();
    });
  }

  _pairsIn(shape) {
    const d = this.data;
    const s = this.screen;
    const pairs = new Set();
    if (shape.kind === "box") {
      for (let i = 0; i < d.n; i++) {
        const x = s[2 * i], y = s[2 * i + 1];
        if (x >= shape.x0 && x <= shape.x1 && y >= shape.y0 && y <= shape.y1) pairs.add(i % d.N);
      }
    } else {
      const poly = shape.points;
      let bx0 = Infinity, bx1 = -Infinity, by0 = Infinity, by1 = -Infinity;
      for (const [x, y] of poly) {
        bx0 = Math.min(bx0, x); bx1 = Math.max(bx1, x); by0 = Math.min(by0, y); by1 = Math.max(by1, y);
      }
      for (let i = 0; i < d.n; i++) {
        const x = s[2 * i], y = s[2 * i + 1];
        if (x < bx0 || x > bx1 || y < by0 || y > by1) continue;
        if (insidePolygon(x, y, poly)) pairs.add(i % d.N);
      }
    }
    return pairs;
  }

  _commitSelection(pairs, add = false) {
    const next = add ? new Set([...this.selected, ...pairs]) : pairs;
    this.selected = next;
    this.draw();
    if (this.opts.onSelect) this.opts.onSelect([...next].sort((a, b) => a - b));
  }

  _setHover(i, px = 0, py = 0, t0 = now()) {
    if (i === this.hoverItem) {
      if (i >= 0) this._placeTooltip(px, py);
      return;
    }
    this.hoverItem = i;
    this.drawOverlay();
    const d = this.data;
    if (i < 0) {
      this.tooltip.hidden = true;
      if (this.opts.onHover) this.opts.onHover(null);
      return;
    }
    const m = Math.floor(i / d.N), pair = i % d.N;
    const id = d.pairIds ? d.pairIds[pair] : pair;
    const text = d.texts && d.texts[pair] ? d.texts[pair] : "";
    this.tooltip.replaceChildren(
      h("div", { class: "amumo-tip-head" }, h("span", { class: "amumo-swatch", style: { background: colorOf(d, i) } }), h("b", { text: `${d.modalities[m]} #${id}` })),
      text ? h("div", { class: "amumo-tip-row", text }) : null,
    );
    this.tooltip.hidden = false;
    this._placeTooltip(px, py);
    if (this.opts.onHover) this.opts.onHover({ item: i, m, modality: d.modalities[m], pair, t0, start: this.handlerStart });
  }

  _placeTooltip(px, py) {
    placeTip(this.tooltip, px, py, this.W, this.H);
  }
}

function colorOf(d, i) {
  const palette = d.palette || ["#4c78a8"];
  const codes = d.codes && d.codes.length >= d.n ? d.codes : null;
  return palette[(codes ? codes[i] : Math.floor(i / d.N)) % palette.length];
}

function insidePolygon(x, y, poly) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i], [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
