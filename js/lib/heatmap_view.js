// HeatmapView: the (M·N)² similarity matrix on a canvas.
//
// Layers: a base canvas (overview image + exact detail + separators, labels, colour bar)
// redrawn on zoom/pan/data; an overlay canvas (crosshair, linked highlights) redrawn on
// hover only, so hovering never repaints the matrix. Item coordinates: position p in
// [0, M·N) is modality floor(p / N) and, inside that block, the pair order[p % N].

import { lut, paintCodes, paintValues, cssColor } from "./colormaps.js";
import { drawClusterBadges, clusterTipLine, renderClusterKey } from "./cluster_names.js";
import { ClickGate } from "./clicks.js";
import { h, sizeCanvas, niceTicks, tickDigits, fmt, debounce, now, placeTip } from "./util.js";

const TOP = 28;
const LEFT = 28;
const RIGHT = 66;
const BOTTOM = 8;
const DETAIL_MAX = 384; // request exact cells when at most this many items are visible per axis
const MIN_SPAN = 6;

export class HeatmapView {
  /**
   * @param {HTMLElement} host element to render into
   * @param {object} opts {onHover(info|null), onClick(info), requestWindow(win) -> Promise<{values, r0, r1, c0, c1}>,
   *                       requestCell(r, c) -> Promise<number>, maxSide, minSide,
   *                       clusterKey (false: no key of the cluster names under the matrix),
   *                       portrait(entry, label) -> element (a cluster's picture in the key)}
   */
  constructor(host, opts = {}) {
    this.opts = opts;
    this.root = h("div", { class: "amumo-heatmap-view" });
    this.stage = h("div", { class: "amumo-stage" });
    this.base = h("canvas", { class: "amumo-base" });
    this.overlay = h("canvas", { class: "amumo-overlay" });
    this.tooltip = h("div", { class: "amumo-tooltip", hidden: true });
    this.status = h("div", { class: "amumo-statusline" });
    this.busy = h("div", { class: "amumo-busy", hidden: true });
    // The key naming the numbered clusters (cluster_names.js); a Comparer shows one for all.
    this.key = h("ol", { class: "amumo-cluster-key", hidden: true, "aria-label": "clusters" });
    this.keyCluster = null; // the cluster whose key entry is hovered (outlined on the matrix)
    this.stage.append(this.base, this.overlay, this.tooltip, this.busy);
    this.root.append(this.stage, this.status, ...(opts.clusterKey === false ? [] : [this.key]));
    host.append(this.root);
    this.data = null;
    this.win = { x0: 0, y0: 0, span: 1 };
    this.detail = null;
    this.detailKey = "";
    this.hover = null; // {r, c} positions
    this.linked = null; // {cell: [r, c]} or {items: [...]}
    this.selectedPairs = new Set();
    this.cellCache = new Map();
    this.side = 300;
    this.ovCanvas = document.createElement("canvas");
    this.requestDetail = debounce(() => this._requestDetail(), 120);
    this.clicks = new ClickGate();
    this._bindPointer();
    this.resizeObserver = new ResizeObserver(() => this.layout());
    this.resizeObserver.observe(this.root);
  }

  /** Show what the view waits for (e.g. "updating…") over the stale picture; "" hides it. */
  setBusy(text) {
    this.busy.hidden = !text;
    this.busy.textContent = text || "";
    this.root.dataset.busy = text ? "true" : "false";
  }

  dispose() {
    this.resizeObserver.disconnect();
    this.requestDetail.cancel();
    this.clicks.dispose();
  }

  /** Replace the data; keeps the zoom window when the matrix size is unchanged. */
  setData(data) {
    const old = this.data;
    this.data = { ...data };
    const d = this.data;
    d.N = Math.max(1, d.N | 0);
    d.M = d.modalities.length;
    d.n = d.M * d.N;
    if (!d.order || d.order.length !== d.N) {
      d.order = new Int32Array(d.N);
      for (let i = 0; i < d.N; i++) d.order[i] = i;
    }
    d.position = new Int32Array(d.N);
    for (let q = 0; q < d.N; q++) d.position[d.order[q]] = q;
    if (!old || old.n !== d.n) this.win = { x0: 0, y0: 0, span: d.n };
    this.root.dataset.n = String(d.n);
    // Paint the overview once; zoom and pan only blit it.
    const size = d.size;
    this.ovCanvas.width = size;
    this.ovCanvas.height = size;
    if (size > 0 && d.overview.length >= size * size) {
      this.ovCanvas.getContext("2d").putImageData(paintCodes(d.overview, size, size, d.colormap), 0, 0);
    }
    this.detail = null;
    this.detailKey = "";
    this.cellCache.clear();
    this.keyCluster = null;
    renderClusterKey(this.key, d, (e) => this.outlineCluster(e), this.opts.portrait || null);
    this.layout();
    this.requestDetail();
  }

  /** Outline cluster e (its blocks in every quadrant), or none for null: a key entry is hovered. */
  outlineCluster(e) {
    this.keyCluster = e;
    this.drawOverlay();
  }

  /** Linked highlight from another view: {cell: [rowPos, colPos]} or {items: [itemIndex...]} or null. */
  setLinked(linked) {
    this.linked = linked;
    this.drawOverlay();
  }

  setSelection(pairs) {
    this.selectedPairs = pairs || []; // iterable; no Set of a million pairs per lasso
    this.drawOverlay();
  }

  resetZoom() {
    if (!this.data) return;
    this.win = { x0: 0, y0: 0, span: this.data.n };
    this.draw();
    this.requestDetail();
  }

  zoomBy(factor, cx = null, cy = null) {
    if (!this.data) return;
    const { n } = this.data;
    const w = this.win;
    const fx = cx === null ? w.x0 + w.span / 2 : cx;
    const fy = cy === null ? w.y0 + w.span / 2 : cy;
    const span = Math.max(Math.min(MIN_SPAN, n), Math.min(n, w.span / factor));
    const x0 = fx - ((fx - w.x0) * span) / w.span;
    const y0 = fy - ((fy - w.y0) * span) / w.span;
    this.win = this._clamp({ x0, y0, span });
    this.draw();
    this.requestDetail();
  }

  _clamp({ x0, y0, span }) {
    const n = this.data.n;
    return { x0: Math.max(0, Math.min(n - span, x0)), y0: Math.max(0, Math.min(n - span, y0)), span };
  }

  layout() {
    const width = this.root.clientWidth || this.opts.width || 480;
    const maxSide = this.opts.maxSide || 620;
    const minSide = this.opts.minSide || 160;
    this.side = Math.max(minSide, Math.min(maxSide, Math.floor(width - LEFT - RIGHT)));
    const W = LEFT + this.side + RIGHT;
    const H = TOP + this.side + BOTTOM;
    this.stage.style.width = `${W}px`;
    this.stage.style.height = `${H}px`;
    this.root.dataset.geometry = JSON.stringify({ left: LEFT, top: TOP, side: this.side });
    this.ctx = sizeCanvas(this.base, W, H);
    this.octx = sizeCanvas(this.overlay, W, H);
    this.draw();
  }

  // ---------------------------------------------------------------- coordinates
  toScreen(x, y) {
    const { x0, y0, span } = this.win;
    return [LEFT + ((x - x0) / span) * this.side, TOP + ((y - y0) / span) * this.side];
  }

  toItems(px, py) {
    const { x0, y0, span } = this.win;
    return [x0 + ((px - LEFT) / this.side) * span, y0 + ((py - TOP) / this.side) * span];
  }

  /** Describe position p: {pos, m, modality, pair, item}. */
  describe(p) {
    const d = this.data;
    const m = Math.floor(p / d.N);
    const pair = d.order[p - m * d.N];
    return { pos: p, m, modality: d.modalities[m], pair, item: m * d.N + pair };
  }

  /** Position of an item index m*N + pair. */
  itemPosition(item) {
    const d = this.data;
    const m = Math.floor(item / d.N);
    return m * d.N + d.position[item - m * d.N];
  }

  /** Quantised overview value at (r, c), and whether it is a pooled block mean. */
  approxValue(r, c) {
    const d = this.data;
    const k = d.size;
    const i = Math.min(k - 1, Math.floor((r * k) / d.n));
    const j = Math.min(k - 1, Math.floor((c * k) / d.n));
    const code = d.overview[i * k + j];
    return { value: d.vmin + (code / 255) * (d.vmax - d.vmin), pooled: k < d.n };
  }

  exactValue(r, c) {
    const det = this.detail;
    if (det && r >= det.r0 && r < det.r1 && c >= det.c0 && c < det.c1) {
      return det.values[(r - det.r0) * (det.c1 - det.c0) + (c - det.c0)];
    }
    const key = r * this.data.n + c;
    return this.cellCache.has(key) ? this.cellCache.get(key) : null;
  }

  // ---------------------------------------------------------------- drawing
  draw() {
    const ctx = this.ctx;
    const d = this.data;
    if (!ctx) return;
    const W = LEFT + this.side + RIGHT;
    const H = TOP + this.side + BOTTOM;
    ctx.clearRect(0, 0, W, H);
    if (!d || !d.size) {
      this.drawOverlay();
      return;
    }
    const S = this.side;
    const { x0, y0, span } = this.win;
    ctx.save();
    ctx.beginPath();
    ctx.rect(LEFT, TOP, S, S);
    ctx.clip();
    ctx.imageSmoothingEnabled = false;
    const k = d.size / d.n;
    ctx.drawImage(this.ovCanvas, x0 * k, y0 * k, span * k, span * k, LEFT, TOP, S, S);
    const det = this.detail;
    if (det && det.canvas) {
      const [dx0, dy0] = this.toScreen(det.c0, det.r0);
      const [dx1, dy1] = this.toScreen(det.c1, det.r1);
      ctx.drawImage(det.canvas, dx0, dy0, dx1 - dx0, dy1 - dy0);
    }
    this._drawClusters(ctx);
    const tags = this._drawSeparators(ctx);
    const badges = this._drawClusterBadges(ctx, tags);
    ctx.restore();
    // Where the labels on the matrix went (stage pixels), for tests.
    this.root.dataset.labels = JSON.stringify({ tags, badges });
    ctx.strokeStyle = "rgba(0,0,0,0.35)";
    ctx.lineWidth = 1;
    ctx.strokeRect(LEFT - 0.5, TOP - 0.5, S + 1, S + 1);
    this._drawLabels(ctx);
    this._drawColorbar(ctx);
    this._drawTicks(ctx);
    const zoom = d.n / span;
    const r0 = Math.floor(y0), c0 = Math.floor(x0);
    const r1 = Math.min(d.n, Math.ceil(y0 + span)) - 1, c1 = Math.min(d.n, Math.ceil(x0 + span)) - 1;
    // Pair ids (as in the tooltip), not positions in the (possibly clustered) order.
    this.status.textContent =
      zoom > 1.01
        ? `zoom ${zoom.toFixed(1)}× · rows ${this._rangeLabel(r0, r1)} · cols ${this._rangeLabel(c0, c1)}` +
          (this.detail ? " · exact" : d.size < d.n ? " · overview" : "")
        : `${d.n.toLocaleString()} × ${d.n.toLocaleString()} items` + (d.size < d.n ? ` · overview ${d.size}² (block means)` : "");
    this.drawOverlay();
  }

  /** Pair id of position p (what the tooltip shows). */
  pairId(p) {
    const info = this.describe(p);
    return this.data.pairIds ? this.data.pairIds[info.pair] : info.pair;
  }

  /** "image #12 … #87" for positions p0..p1 (pair ids, first and last shown). */
  _rangeLabel(p0, p1) {
    const a = this.describe(p0), b = this.describe(p1);
    const tail = a.m === b.m ? `#${this.pairId(p1)}` : `${b.modality} #${this.pairId(p1)}`;
    return p0 === p1 ? `${a.modality} #${this.pairId(p0)}` : `${a.modality} #${this.pairId(p0)} … ${tail}`;
  }

  /** Cells at least this wide get pair-id tick labels (every k-th when they would overlap). */
  _tickMode() {
    return this.data && this.side / this.win.span >= 6;
  }

  _drawTicks(ctx) {
    if (!this._tickMode()) return;
    const d = this.data;
    const { x0, y0, span } = this.win;
    const cell = this.side / span;
    const first = (v) => Math.max(0, Math.floor(v));
    const last = (v) => Math.min(d.n, Math.ceil(v + span)) - 1;
    ctx.save();
    ctx.fillStyle = "#4b5563";
    ctx.font = "8.5px system-ui, -apple-system, 'Segoe UI', sans-serif";
    const colStep = Math.max(1, Math.ceil(30 / cell));
    ctx.textAlign = "center";
    ctx.textBaseline = "alphabetic";
    for (let c = first(x0); c <= last(x0); c++) {
      if (c % colStep) continue;
      const [x] = this.toScreen(c + 0.5, 0);
      if (x < LEFT || x > LEFT + this.side) continue;
      ctx.fillText(String(this.pairId(c)), x, TOP - 3);
    }
    const rowStep = Math.max(1, Math.ceil(11 / cell));
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let r = first(y0); r <= last(y0); r++) {
      if (r % rowStep) continue;
      const [, y] = this.toScreen(0, r + 0.5);
      if (y < TOP || y > TOP + this.side) continue;
      ctx.fillText(String(this.pairId(r)), LEFT - 2, y);
    }
    ctx.restore();
  }

  _drawSeparators(ctx) {
    const d = this.data;
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2;
    for (let m = 1; m < d.M; m++) {
      const [x, y] = this.toScreen(m * d.N, m * d.N);
      ctx.beginPath();
      ctx.moveTo(x, TOP);
      ctx.lineTo(x, TOP + this.side);
      ctx.moveTo(LEFT, y);
      ctx.lineTo(LEFT + this.side, y);
      ctx.stroke();
    }
    // Quadrant tags ("image–text") in each visible quadrant's top-left corner.
    ctx.font = "600 10.5px system-ui, -apple-system, 'Segoe UI', sans-serif";
    ctx.textBaseline = "middle";
    const tags = [];
    for (let a = 0; a < d.M; a++) {
      for (let b = 0; b < d.M; b++) {
        const [x0, y0] = this.toScreen(b * d.N, a * d.N);
        const [x1, y1] = this.toScreen((b + 1) * d.N, (a + 1) * d.N);
        const vx0 = Math.max(x0, LEFT), vy0 = Math.max(y0, TOP);
        const vx1 = Math.min(x1, LEFT + this.side), vy1 = Math.min(y1, TOP + this.side);
        if (vx1 - vx0 < 90 || vy1 - vy0 < 30) continue;
        const label = `${d.modalities[a]}–${d.modalities[b]}`;
        const w = ctx.measureText(label).width + 10;
        ctx.fillStyle = "rgba(255,255,255,0.82)";
        roundRect(ctx, vx0 + 5, vy0 + 5, w, 17, 4);
        ctx.fill();
        ctx.fillStyle = "#1f2937";
        ctx.fillText(label, vx0 + 10, vy0 + 14);
        tags.push({ label, x: vx0 + 5, y: vy0 + 5, w, h: 17 });
      }
    }
    return tags;
  }

  /** Number the clusters on the matrix, clear of the quadrant tags; the badges drawn. */
  _drawClusterBadges(ctx, tags) {
    const d = this.data;
    if (!d.bounds || !d.bounds.length) return [];
    return drawClusterBadges(ctx, this, d, [0, ...d.bounds, d.N], [LEFT, TOP, this.side], tags);
  }

  _drawClusters(ctx) {
    const d = this.data;
    const bounds = d.bounds;
    if (!bounds || !bounds.length) return;
    const edges = [0, ...bounds, d.N];
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 3]);
    for (let a = 0; a < d.M; a++) {
      for (let b = 0; b < d.M; b++) {
        for (let e = 0; e + 1 < edges.length; e++) {
          const [x0, y0] = this.toScreen(b * d.N + edges[e], a * d.N + edges[e]);
          const [x1, y1] = this.toScreen(b * d.N + edges[e + 1], a * d.N + edges[e + 1]);
          if (x1 < LEFT || y1 < TOP || x0 > LEFT + this.side || y0 > TOP + this.side) continue;
          ctx.strokeRect(x0 + 0.5, y0 + 0.5, Math.max(1, x1 - x0 - 1), Math.max(1, y1 - y0 - 1));
        }
      }
    }
    ctx.setLineDash([]);
  }

  _drawLabels(ctx) {
    const d = this.data;
    // With pair-id ticks (zoomed in) the modality names move to the outer edge, smaller.
    const ticks = this._tickMode();
    const top = ticks ? 7 : TOP / 2, left = ticks ? 5 : LEFT / 2;
    ctx.fillStyle = "#374151";
    ctx.font = ticks ? "600 9.5px system-ui, -apple-system, 'Segoe UI', sans-serif" : "600 12px system-ui, -apple-system, 'Segoe UI', sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let m = 0; m < d.M; m++) {
      const [xa] = this.toScreen(m * d.N, 0);
      const [xb] = this.toScreen((m + 1) * d.N, 0);
      const a = Math.max(LEFT, xa), b = Math.min(LEFT + this.side, xb);
      const label = d.modalities[m];
      if (b - a >= 24) ctx.fillText(label, (a + b) / 2, top);
      ctx.save();
      const [, ya] = this.toScreen(0, m * d.N);
      const [, yb] = this.toScreen(0, (m + 1) * d.N);
      const c = Math.max(TOP, ya), e = Math.min(TOP + this.side, yb);
      if (e - c >= 24) {
        ctx.translate(left, (c + e) / 2);
        ctx.rotate(-Math.PI / 2);
        ctx.fillText(label, 0, 0);
      }
      ctx.restore();
    }
    ctx.textAlign = "start";
  }

  _drawColorbar(ctx) {
    const d = this.data;
    const x = LEFT + this.side + 14;
    const w = 12;
    const y = TOP;
    const H = this.side;
    const table = lut(d.colormap);
    for (let i = 0; i < H; i++) {
      const code = Math.round((1 - i / Math.max(1, H - 1)) * 255) * 4;
      ctx.fillStyle = `rgb(${table[code]},${table[code + 1]},${table[code + 2]})`;
      ctx.fillRect(x, y + i, w, 1.5);
    }
    ctx.strokeStyle = "rgba(0,0,0,0.35)";
    ctx.strokeRect(x - 0.5, y - 0.5, w + 1, H + 1);
    const ticks = niceTicks(d.vmin, d.vmax, Math.max(3, Math.floor(H / 55)));
    const digits = Math.max(1, tickDigits(ticks));
    ctx.fillStyle = "#374151";
    ctx.font = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
    ctx.textBaseline = "middle";
    for (const t of ticks) {
      const ty = y + (1 - (t - d.vmin) / (d.vmax - d.vmin)) * H;
      ctx.fillRect(x + w, ty - 0.5, 4, 1);
      ctx.fillText(fmt(t, digits), x + w + 6, ty);
    }
    ctx.font = "600 10.5px system-ui, -apple-system, 'Segoe UI', sans-serif";
    ctx.fillStyle = "#6b7280";
    ctx.textBaseline = "middle";
    ctx.fillText("cos", x - 1, TOP / 2);
  }

  /** Crosshair, hovered cell and linked highlights; cheap, called on every hover. */
  drawOverlay() {
    const ctx = this.octx;
    if (!ctx) return;
    const W = LEFT + this.side + RIGHT;
    const H = TOP + this.side + BOTTOM;
    ctx.clearRect(0, 0, W, H);
    const d = this.data;
    if (!d || !d.size) return;
    ctx.save();
    ctx.beginPath();
    ctx.rect(LEFT, TOP, this.side, this.side);
    ctx.clip();
    const rows = [];
    const cols = [];
    let cell = null;
    if (this.hover) cell = [this.hover.r, this.hover.c];
    else if (this.linked && this.linked.cell) cell = this.linked.cell;
    if (cell) {
      rows.push(cell[0]);
      cols.push(cell[1]);
    }
    if (!cell && this.linked && this.linked.items) {
      for (const item of this.linked.items) {
        const p = this.itemPosition(item);
        rows.push(p);
        cols.push(p);
      }
    }
    const cellPx = this.side / this.win.span;
    const band = (p, horizontal) => {
      const [x, y] = this.toScreen(p, p);
      const size = Math.max(1, cellPx);
      ctx.fillStyle = "rgba(255,255,255,0.22)";
      if (horizontal) ctx.fillRect(LEFT, y, this.side, size);
      else ctx.fillRect(x, TOP, size, this.side);
      ctx.strokeStyle = "rgba(17,24,39,0.75)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      if (horizontal) {
        ctx.moveTo(LEFT, y + size / 2);
        ctx.lineTo(LEFT + this.side, y + size / 2);
      } else {
        ctx.moveTo(x + size / 2, TOP);
        ctx.lineTo(x + size / 2, TOP + this.side);
      }
      ctx.stroke();
    };
    for (const r of rows) band(r, true);
    for (const c of cols) band(c, false);
    if (this.keyCluster !== null && d.bounds && d.bounds.length) {
      // The cluster whose key entry is hovered: its block in every quadrant.
      const edges = [0, ...d.bounds, d.N];
      const e = this.keyCluster;
      for (let a = 0; a < d.M; a++) {
        for (let b = 0; b < d.M; b++) {
          const [x0, y0] = this.toScreen(b * d.N + edges[e], a * d.N + edges[e]);
          const [x1, y1] = this.toScreen(b * d.N + edges[e + 1], a * d.N + edges[e + 1]);
          ctx.strokeStyle = "#ffffff";
          ctx.lineWidth = 3;
          ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
          ctx.strokeStyle = "#e11d48";
          ctx.lineWidth = 1.5;
          ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
        }
      }
    }
    if (cell) {
      const [x, y] = this.toScreen(cell[1], cell[0]);
      const size = Math.max(6, cellPx);
      const off = (size - Math.max(1, cellPx)) / 2;
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 3;
      ctx.strokeRect(x - off, y - off, size, size);
      ctx.strokeStyle = "#e11d48";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(x - off, y - off, size, size);
    }
    ctx.restore();
  }

  // ---------------------------------------------------------------- tooltip + detail
  _showTooltip(px, py, r, c) {
    const d = this.data;
    const row = this.describe(r);
    const col = this.describe(c);
    const exact = this.exactValue(r, c);
    const approx = this.approxValue(r, c);
    const value = exact !== null ? fmt(exact, 3) : `≈ ${fmt(approx.value, 2)}`;
    // Texts of very many pairs are not in the browser: ask for these two (texts.js), and
    // show the tooltip again when they arrive if the pointer is still on this cell.
    const known = (info) => (d.pairTexts ? d.pairTexts.get(info.pair) : (d.texts && d.texts[info.pair]) || "");
    const missing = [row, col].filter((info) => known(info) === null).map((info) => info.pair);
    if (missing.length) {
      d.pairTexts.fetch(missing).then(() => {
        if (this.data === d && this.hover && this.hover.r === r && this.hover.c === c) this._showTooltip(this.hover.px, this.hover.py, r, c);
      }, () => {});
    }
    const text = (info) => {
      const t = known(info);
      return t === null ? h("span", { class: "amumo-muted", text: "…" }) : t;
    };
    const tip = this.tooltip;
    tip.replaceChildren(
      h("div", { class: "amumo-tip-head" },
        h("span", { class: "amumo-tip-quadrant", text: `${row.modality}–${col.modality}` }),
        h("span", { class: "amumo-tip-value", "data-value": exact !== null ? exact : "", text: value })),
      h("div", { class: "amumo-tip-row" }, h("b", { text: `row: ${row.modality} #${d.pairIds ? d.pairIds[row.pair] : row.pair}` }), " ", text(row)),
      h("div", { class: "amumo-tip-row" }, h("b", { text: `col: ${col.modality} #${d.pairIds ? d.pairIds[col.pair] : col.pair}` }), " ", text(col)),
      clusterTipLine(d, r, c) || "", // replaceChildren(null) would print "null"
    );
    tip.hidden = false;
    this._placeTip(tip, px, py);
    if (exact === null && this.opts.requestCell) this._fetchCell(r, c);
  }

  /** Place the tooltip by the pointer, never over the colour bar (it goes left of the
   *  pointer instead, or wraps narrower where there is no room on the left). */
  _placeTip(tip, px, py) {
    const W = LEFT + this.side + RIGHT;
    tip.style.maxWidth = "";
    placeTip(tip, px, py, W, TOP + this.side + BOTTOM);
    const gap = 14;
    const barX = LEFT + this.side + 8;
    const width = tip.offsetWidth;
    if (tip.style.left && px + gap + width > barX) {
      if (px - gap - width >= 0) {
        tip.style.left = "";
        tip.style.right = `${Math.max(0, W - px + gap)}px`;
      } else {
        tip.style.maxWidth = `${Math.max(120, barX - px - gap)}px`;
      }
    }
  }

  _fetchCell(r, c) {
    this.cellWanted = [r, c];
    if (this.cellBusy) return;
    this.cellBusy = true;
    const [rr, cc] = this.cellWanted;
    this.opts
      .requestCell(rr, cc)
      .then((value) => {
        this.cellCache.set(rr * this.data.n + cc, value);
        if (this.cellCache.size > 5000) this.cellCache.clear();
        if (this.hover && this.hover.r === rr && this.hover.c === cc) this._showTooltip(this.hover.px, this.hover.py, rr, cc);
      })
      .catch(() => {})
      .finally(() => {
        this.cellBusy = false;
        if (this.hover && (this.hover.r !== rr || this.hover.c !== cc) && this.exactValue(this.hover.r, this.hover.c) === null) {
          this._fetchCell(this.hover.r, this.hover.c);
        }
      });
  }

  _requestDetail() {
    const d = this.data;
    if (!d || !this.opts.requestWindow) return;
    const { x0, y0, span } = this.win;
    if (span > DETAIL_MAX) return;
    const pad = Math.ceil(span * 0.25);
    const r0 = Math.max(0, Math.floor(y0) - pad), r1 = Math.min(d.n, Math.ceil(y0 + span) + pad);
    const c0 = Math.max(0, Math.floor(x0) - pad), c1 = Math.min(d.n, Math.ceil(x0 + span) + pad);
    const det = this.detail;
    if (det && det.r0 <= Math.floor(y0) && det.r1 >= Math.ceil(y0 + span) && det.c0 <= Math.floor(x0) && det.c1 >= Math.ceil(x0 + span)) return;
    const key = `${r0},${r1},${c0},${c1}`;
    if (key === this.detailKey) return;
    this.detailKey = key;
    const version = this.data;
    this.opts
      .requestWindow({ r0, r1, c0, c1 })
      .then(({ values }) => {
        if (this.data !== version || this.detailKey !== key) return;
        const w = c1 - c0, hgt = r1 - r0;
        if (values.length < w * hgt) return;
        const canvas = document.createElement("canvas");
        canvas.width = w;
        canvas.height = hgt;
        canvas.getContext("2d").putImageData(paintValues(values, w, hgt, d.colormap, d.vmin, d.vmax), 0, 0);
        this.detail = { r0, r1, c0, c1, values, canvas };
        this.draw();
      })
      .catch(() => {
        this.detailKey = "";
      });
  }

  // ---------------------------------------------------------------- pointer
  _bindPointer() {
    const target = this.overlay;
    let drag = null;
    const inside = (px, py) => px >= LEFT && py >= TOP && px < LEFT + this.side && py < TOP + this.side;
    const local = (event) => {
      const rect = target.getBoundingClientRect();
      return [event.clientX - rect.left, event.clientY - rect.top];
    };
    target.addEventListener("pointermove", (event) => {
      const t0 = event.timeStamp > 0 ? Math.min(now(), event.timeStamp) : now();
      this.handlerStart = now();
      const [px, py] = local(event);
      this.pointer = [px, py];
      if (drag) {
        const dx = px - drag.px, dy = py - drag.py;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        if (drag.moved) {
          const scale = this.win.span / this.side;
          this.win = this._clamp({ x0: drag.x0 - dx * scale, y0: drag.y0 - dy * scale, span: this.win.span });
          this.tooltip.hidden = true;
          this.draw();
          this.requestDetail();
          return;
        }
      }
      this._hoverAt(px, py, t0);
    });
    this._hoverAt = (px, py, t0) => {
      if (!this.data || !inside(px, py)) {
        this._leave();
        return;
      }
      const [x, y] = this.toItems(px, py);
      const r = Math.min(this.data.n - 1, Math.floor(y));
      const c = Math.min(this.data.n - 1, Math.floor(x));
      const changed = !this.hover || this.hover.r !== r || this.hover.c !== c;
      this.hover = { r, c, px, py };
      if (changed) {
        this.drawOverlay();
        this._showTooltip(px, py, r, c);
        if (this.opts.onHover) this.opts.onHover({ row: this.describe(r), col: this.describe(c), t0, start: this.handlerStart });
      } else {
        this._showTooltip(px, py, r, c);
      }
    };
    target.addEventListener("pointerleave", () => this._leave());
    target.addEventListener("pointerdown", (event) => {
      const [px, py] = local(event);
      if (!inside(px, py)) return;
      target.setPointerCapture(event.pointerId);
      drag = { px, py, x0: this.win.x0, y0: this.win.y0, moved: false };
    });
    target.addEventListener("pointerup", (event) => {
      const wasDrag = drag;
      drag = null;
      if (!wasDrag || wasDrag.moved || !this.data) return;
      const [px, py] = local(event);
      if (!inside(px, py)) return;
      const [x, y] = this.toItems(px, py);
      const r = Math.min(this.data.n - 1, Math.floor(y));
      const c = Math.min(this.data.n - 1, Math.floor(x));
      const info = { row: this.describe(r), col: this.describe(c), shift: event.shiftKey };
      // Deferred: the first two clicks of a double-click (reset zoom) select nothing.
      if (this.opts.onClick) this.clicks.click(() => this.opts.onClick(info));
    });
    target.addEventListener(
      "wheel",
      (event) => {
        if (!this.data) return;
        const [px, py] = local(event);
        if (!inside(px, py)) return;
        event.preventDefault();
        const [x, y] = this.toItems(px, py);
        this.zoomBy(Math.pow(1.0015, -event.deltaY), x, y);
        this._hoverAt(px, py, now());
      },
      { passive: false },
    );
    target.addEventListener("dblclick", () => {
      this.clicks.dblclick();
      this.resetZoom();
    });
  }

  _leave() {
    if (!this.hover) return;
    this.hover = null;
    this.tooltip.hidden = true;
    this.drawOverlay();
    if (this.opts.onHover) this.opts.onHover(null);
  }
}

function roundRect(ctx, x, y, w, hgt, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + hgt, r);
  ctx.arcTo(x + w, y + hgt, x, y + hgt, r);
  ctx.arcTo(x, y + hgt, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

export { cssColor };
