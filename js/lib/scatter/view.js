// ScatterView: a 2-D projection of every item, a line per pair, hover, box / lasso selection,
// pan and zoom. What is the same whichever renderer draws the points lives here: the data,
// the selection, the axes, pair lines and hover rings, the status line, the tooltip and the
// pointer gestures (interaction.js). A renderer (webgl.js: regl-scatterplot, millions of
// points; canvas.js: the canvas-2D fallback) draws the points and keeps the camera.
//
// Layers of one stage (all the same size, the plot square at PAD):
//   base canvas (2D)       background, grid, ticks, axis labels, pair lines
//   renderer's surface     the points, in the plot square (pointer gestures start here)
//   overlay canvas (2D)    hovered / linked pair, box or lasso shape (pointer-events: none)
//
// Renderer interface: {kind, surface, ownsCamera, ready, onView (set here: the camera
// moved), start(onReady(initMs)), fit(window), window(), setWindow(window) (when not
// ownsCamera), resize(side), upload(d, fitted, {transition, resetCamera, selected})
// -> Promise (drawn; uploads made while one draws are queued, the latest wins), drawn (points
// shown by the last finished draw), highlight(selectedPairs), resetView(), dispose()}.
//
// Pair lines: all of them while N <= LINE_LIMIT pairs; above, only for the hovered pair
// (overlay) and the selected pairs (if at most LINE_LIMIT of them).

import { HIGHLIGHT_LIMIT, HIT_RADIUS_PX, LINE_LIMIT, TRANSITION_LIMIT, lineAlpha, selectedLineAlpha } from "../sizes.js";
import { h, sizeCanvas, now } from "../util.js";
import { PAD, drawAxes, drawFocus, drawPairLines, drawShape, renderLegend } from "./frame.js";
import { colorOf, drawnPair, fitWindow, prepareData, shownPair, xySum } from "./data.js";
import { HitGrid } from "./hit_grid.js";
import { SortedPairs, pairsInShape } from "./selection.js";
import { PointTooltip } from "./tooltip.js";
import { drawQuery } from "./query_marker.js";
import { bindPointer } from "./interaction.js";

export class ScatterView {
  /**
   * @param {HTMLElement} host
   * @param {object} opts {onHover(info|null), onSelect(pairs:number[]),
   *   maxSide, minSide}
   * @param {object} renderer draws the points (see the interface above)
   */
  constructor(host, opts, renderer) {
    this.opts = opts;
    this.renderer = renderer;
    this.root = h("div", { class: "amumo-scatter-view", "data-renderer": renderer.kind });
    this.stage = h("div", { class: "amumo-stage" });
    this.base = h("canvas", { class: "amumo-base" });
    this.overlay = h("canvas", { class: "amumo-overlay", style: { pointerEvents: "none" } });
    this.legend = h("div", { class: "amumo-legend" });
    this.tooltip = new PointTooltip();
    this.busy = h("div", { class: "amumo-busy", hidden: true });
    this.status = h("div", { class: "amumo-statusline" });
    this.stage.append(this.base, renderer.surface, this.overlay, this.legend, this.tooltip.el, this.busy);
    this.root.append(this.stage, this.status);
    host.append(this.root);
    this.data = null;
    this.mode = "box";
    this.window = null; // visible data window {x0, x1, y0, y1}
    this.norm = null; // the fitted window (the renderer's home view; the hit grid's box)
    this.hoverItem = -1;
    this.linked = null;
    this.query = null; // a typed query's marker (query_marker.js), from the bus
    this.selected = SortedPairs.empty();
    this.selectionShape = null;
    this.shape = null; // the box / lasso being drawn
    this.mouse = [0, 0];
    this.drawToken = 0;
    this.plot = 0;
    renderer.onView = () => this._onView();
    this.unbindPointer = bindPointer(this);
    this.resizeObserver = new ResizeObserver(() => this.layout());
    this.resizeObserver.observe(this.root);
  }

  dispose() {
    this.resizeObserver.disconnect();
    this.disposed = true;
    this.unbindPointer();
    this.renderer.dispose();
  }

  // ---------------------------------------------------------------- data
  /**
   * @param {object} data {xy: Float32Array(n*2), N, modalities, codes: Uint8Array|Uint16Array(n),
   *   palette: [css], legend: [{label, color}] | {continuous...}, showLines, xLabel, yLabel, texts, pairTexts, pairIds,
   *   sample: Int32Array of the shown pairs drawn (max_points) or empty for all} (see data.js)
   */
  setData(data) {
    const old = this.kernelData || this.data; // the last data from the kernel, without zoomed-in pairs
    const zoomed = !!this.zoom;
    this.raw = data; // the drawn sample as the kernel sent it (zoomed-in pairs come on top)
    this.zoom = null;
    this.viewportToken = (this.viewportToken || 0) + 1;
    const d = prepareData(data);
    this.data = d;
    this.kernelData = d;
    this.root.dataset.xySum = xySum(d.xy).toFixed(6);
    this.root.dataset.n = String(d.n);
    this.root.dataset.dataAt = String(Date.now()); // when these points arrived (benchmarks)
    const sameShape = old && old.n === d.n && old.M === d.M;
    if (!sameShape) {
      this.selected = SortedPairs.empty();
      this.selectionShape = null;
      this.hoverItem = -1;
      this.userView = false;
    }
    const keepView = sameShape && this.userView;
    if (!keepView) this.norm = fitWindow(d.xy, d.n);
    renderLegend(this.legend, d.legend || [], this.opts.portrait || null);
    if (!this.plot) this.layout();
    const moved = sameShape && !sameCoords(old.xy, d.xy);
    this._upload({ transition: moved && d.n <= TRANSITION_LIMIT, resetCamera: !keepView, moved });
    if (keepView && zoomed) this._askViewport(); // new coordinates or colours: the view's pairs again
  }

  /** Hand the points to the renderer; axes, lines and overlay follow once they are drawn. */
  _upload({ transition = false, resetCamera = true, moved = true } = {}) {
    const d = this.data;
    if (!d) return;
    if (resetCamera) this.renderer.fit(this.norm);
    if (!this.renderer.ready) {
      this._drawStatus();
      this.window = this.renderer.window();
      this.drawBase(); // axes of the fitted view while the renderer starts
      this.renderer.start((initMs) => {
        if (this.disposed) return;
        this.root.dataset.glInitMs = initMs.toFixed(1);
        if (this.data) this._upload({ transition: false, resetCamera: true });
      });
      return;
    }
    const t0 = now();
    const token = ++this.drawToken;
    const current = () => token === this.drawToken && !this.disposed;
    this.grid = new HitGrid(d.xy, d.n, this.norm);
    this.root.dataset.drawn = "false";
    this.transitioning = transition;
    this.hoverItem = -1;
    this.tooltip.hide();
    this._drawStatus();
    // Lines follow the points only once they arrive (not during a transition).
    if (transition && moved) this.drawBase(true);
    this.renderer.upload(d, this.norm, { transition, resetCamera, selected: this._highlighted() })
      .then(() => {
        if (!current()) return; // a newer upload replaced this one: it draws and reports
        this.root.dataset.drawnPoints = String(this.renderer.drawn);
        this.transitioning = false;
        this.window = this.renderer.window();
        this.drawBase();
        this.drawOverlay();
        this.root.dataset.drawMs = (now() - t0).toFixed(1);
        this.root.dataset.drawnAt = String(Date.now());
        this.root.dataset.drawn = "true";
      }, (err) => this.setBusy(`drawing failed: ${err}`));
  }

  /** Show `text` over the plot (empty: hide it); `action` {label, title, onClick} adds a button. */
  setBusy(text, action = null) {
    this.busy.hidden = !text;
    this.busy.replaceChildren(h("span", { text: text || "" }));
    if (text && action) {
      const button = h("button", { class: "amumo-busy-action", type: "button", title: action.title || "", text: action.label });
      button.addEventListener("click", (event) => {
        event.stopPropagation();
        button.disabled = true;
        action.onClick();
      });
      this.busy.append(" ", button);
    }
    this.root.dataset.busy = text ? "true" : "false";
  }

  // ---------------------------------------------------------------- linking
  setLinked(linked) {
    const d = this.data;
    if (linked && d && d.sample) {
      // Bus items are m * shown N + shown pair: to this view's drawn indices.
      const items = [];
      for (const i of linked.items || []) {
        const k = drawnPair(d, i % d.Nshown);
        if (k >= 0) items.push(Math.floor(i / d.Nshown) * d.N + k);
      }
      linked = { ...linked, items };
    }
    this.linked = linked;
    this.drawOverlay();
  }

  /**
   * A typed query to mark (null: none): {point, label, color, regions, rings: [{item, color}]}
   * with bus items (m * shown N + shown pair), mapped here to the drawn ones.
   */
  setQuery(query) {
    const d = this.data;
    if (query && d && d.sample) {
      const rings = [];
      for (const ring of query.rings || []) {
        const k = drawnPair(d, ring.item % d.Nshown);
        if (k >= 0) rings.push({ ...ring, item: Math.floor(ring.item / d.Nshown) * d.N + k });
      }
      query = { ...query, rings };
    }
    this.query = query || null;
    this.drawOverlay();
  }

  setSelection(pairs) {
    if (this.data && this.data.sample) pairs = (pairs || []).map((p) => drawnPair(this.data, p)).filter((k) => k >= 0);
    this.selected = SortedPairs.from(pairs || []);
    this.selectionShape = null;
    this._highlight();
    this._drawStatus();
    this.drawBase();
    this.drawOverlay();
  }

  /** The selected pairs the renderer marks point by point (none above HIGHLIGHT_LIMIT points:
   * those are shown as their region, the box / lasso outline). */
  _highlighted() {
    const d = this.data;
    if (!d || this.selected.size * d.M > HIGHLIGHT_LIMIT) return SortedPairs.empty();
    return this.selected;
  }

  _highlight() {
    if (this.renderer.ready && this.data) this.renderer.highlight(this._highlighted());
  }

  /** A new selection from this view: highlight it, tell the bus (sorted pair indices). */
  _commitSelection(pairs, shape = null) {
    const t0 = now();
    this.selected = SortedPairs.from(pairs);
    this.selectionShape = shape ? this._shapeToData(shape) : null;
    this._highlight(); // no-op until the renderer has started
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

  /** A box / lasso (stage pixels) as a polygon in data coordinates, with the coordinates
   * (xy) it was drawn on: it is outlined while those are shown, at any zoom. */
  _shapeToData(shape) {
    const corners = shape.kind === "box"
      ? [[shape.x0, shape.y0], [shape.x1, shape.y0], [shape.x1, shape.y1], [shape.x0, shape.y1]]
      : shape.points;
    return { points: corners.map(([px, py]) => this._toData(px, py)), xy: this.data.xy };
  }

  /** Pairs with an item inside a box / lasso shape (stage pixels). */
  _pairsIn(shape) {
    return pairsInShape(this.data, shape, { left: PAD.left, top: PAD.top, side: this.plot, window: this.window });
  }

  setMode(mode) {
    this.mode = mode;
    this.renderer.surface.style.cursor = mode === "pan" ? "grab" : "crosshair";
  }

  resetView() {
    this.userView = false;
    if (this.zoom) this._setZoom(null);
    this.renderer.resetView();
  }

  // ---------------------------------------------------------------- zoom
  /** The camera settled on a zoomed-in window of a drawn sample: ask the kernel for the
   * pairs in view that are not drawn (opts.onViewport(window) -> Promise of {pairs:
   * Int32Array, xy: Float32Array (modality blocks), codes: Uint8Array, inView, budget}). */
  _askViewport() {
    const raw = this.raw, win = this.window, home = this.norm;
    if (!raw || !raw.sample || !raw.sample.length || !win || !home || !this.opts.onViewport) return;
    const share = ((win.x1 - win.x0) * (win.y1 - win.y0)) / ((home.x1 - home.x0) * (home.y1 - home.y0));
    const token = ++this.viewportToken;
    if (share > ZOOM_SHARE) {
      if (this.zoom) this._setZoom(null);
      return;
    }
    this.root.dataset.zoomAsked = String(token);
    this.root.dataset.zoomAskedAt = String(Date.now()); // wall clock (benchmarks)
    this.opts.onViewport(win).then((extra) => {
      this.root.dataset.zoomReplyAt = String(Date.now());
      if (token === this.viewportToken && !this.disposed && this.raw === raw) this._setZoom({ ...extra, window: win });
    }, (err) => { this.status.dataset.zoomError = String(err); });
  }

  /** Draw the drawn sample plus the zoomed-in pairs `zoom` (null: the sample alone). */
  _setZoom(zoom) {
    const raw = this.raw;
    if (!raw) return;
    this.zoom = zoom && zoom.pairs.length ? zoom : null;
    let data = raw;
    if (this.zoom) {
      const M = raw.modalities.length, N = raw.sample.length, E = this.zoom.pairs.length;
      const xy = new Float32Array(M * (N + E) * 2);
      const codes = raw.codes && raw.codes.length >= M * N ? new Uint8Array(M * (N + E)) : null;
      for (let m = 0; m < M; m++) {
        xy.set(raw.xy.subarray(2 * m * N, 2 * (m + 1) * N), 2 * m * (N + E));
        xy.set(this.zoom.xy.subarray(2 * m * E, 2 * (m + 1) * E), 2 * (m * (N + E) + N));
        if (codes) {
          codes.set(raw.codes.subarray(m * N, (m + 1) * N), m * (N + E));
          codes.set(this.zoom.codes.subarray(m * E, (m + 1) * E), m * (N + E) + N);
        }
      }
      const sample = new Int32Array(N + E);
      sample.set(raw.sample);
      sample.set(this.zoom.pairs, N);
      data = { ...raw, xy, codes: codes || raw.codes, sample };
    }
    const d = this.zoom ? prepareData(data) : this.kernelData;
    d.zoom = this.zoom;
    this.data = d;
    this.root.dataset.n = String(d.n);
    this.root.dataset.zoomPairs = String(this.zoom ? this.zoom.pairs.length : 0);
    this.hoverItem = -1;
    this._upload({ transition: false, resetCamera: false, moved: false });
  }

  // ---------------------------------------------------------------- hover
  /** Nearest point (item index) within HIT_RADIUS_PX pixels of stage position (px, py), or -1. */
  nearest(px, py) {
    const d = this.data, g = this.grid, v = this.window;
    if (!d || !g || !v || this.transitioning) return -1;
    if (px < PAD.left || px > PAD.left + this.plot || py < PAD.top || py > PAD.top + this.plot) return -1;
    const [x, y] = this._toData(px, py);
    const kx = this.plot / (v.x1 - v.x0), ky = this.plot / (v.y1 - v.y0);
    return g.nearest(x, y, kx, ky, HIT_RADIUS_PX);
  }

  _setHover(i, px = 0, py = 0, t0 = now()) {
    if (i === this.hoverItem) {
      if (i >= 0) this.tooltip.place(px, py, this.W, this.H);
      return;
    }
    this.hoverItem = i;
    this.drawOverlay();
    const d = this.data;
    if (i < 0 || !d) {
      this.tooltip.hide();
      this.root.dataset.hovered = "-1";
      if (this.opts.onHover) this.opts.onHover(null);
      return;
    }
    const m = Math.floor(i / d.N), pair = shownPair(d, i % d.N);
    this.tooltip.show(d, i, () => this.hoverItem === i && this.data === d);
    this.root.dataset.hovered = String(d.pairIds ? d.pairIds[pair] : pair);
    this.tooltip.place(px, py, this.W, this.H);
    if (this.opts.onHover) this.opts.onHover({ item: m * d.Nshown + pair, m, modality: d.modalities[m], pair, t0, start: this.handlerStart });
  }

  // ---------------------------------------------------------------- geometry
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
    this.renderer.surface.style.left = `${PAD.left}px`;
    this.renderer.surface.style.top = `${PAD.top}px`;
    if (resized) this.renderer.resize(plot);
    this.window = this.renderer.window();
    this.drawBase();
    this.drawOverlay();
  }

  /** The renderer's camera moved (zoom, pan, reset). */
  _onView() {
    this.window = this.renderer.window();
    if (this.dragging || this.wheeling) this.userView = true;
    this.drawBase();
    this.drawOverlay();
    if (this.userView && this.raw && this.raw.sample && this.raw.sample.length) {
      clearTimeout(this.viewportTimer);
      this.viewportTimer = setTimeout(() => this._askViewport(), VIEWPORT_DEBOUNCE_MS);
    }
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

  // ---------------------------------------------------------------- drawing
  /** Background, grid, ticks, labels and pair lines (under the points). */
  drawBase(hideLines = false) {
    const ctx = this.bctx;
    const d = this.data;
    if (!ctx) return;
    ctx.clearRect(0, 0, this.W, this.H);
    const axis = drawAxes(ctx, PAD.left, PAD.top, this.plot, d, this.window);
    if (axis) {
      this.root.dataset.yTicks = axis.yTicks.join(" ");
      this.root.dataset.yTitle = axis.yTitle;
    }
    if (this.window) this.root.dataset.window = JSON.stringify(this.window);
    if (!d || !this.window || hideLines || this.transitioning) return;
    if (!d.showLines || d.M < 2) return;
    const all = d.N <= LINE_LIMIT;
    const selected = this.selected.size > 0 && this.selected.size <= LINE_LIMIT;
    if (!all && !selected) return;
    this._clipToPlot(ctx);
    const toScreen = (i) => this._screen(i);
    if (all) {
      const alpha = lineAlpha(d.N);
      ctx.strokeStyle = `rgba(55,65,81,${(selected ? alpha / 3 : alpha).toFixed(3)})`;
      ctx.lineWidth = 0.7;
      drawPairLines(ctx, d, toScreen, rangeOf(d.N));
    }
    if (selected) {
      ctx.strokeStyle = `rgba(31,41,55,${selectedLineAlpha(this.selected.size).toFixed(3)})`;
      ctx.lineWidth = 0.9;
      drawPairLines(ctx, d, toScreen, this.selected);
    }
    ctx.restore();
  }

  /** Save the context's state and clip it to the plot square (restore() undoes both). */
  _clipToPlot(ctx) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, PAD.top, this.plot, this.plot);
    ctx.clip();
  }

  _drawStatus() {
    const d = this.data;
    if (!d) return;
    if (d.waiting) {
      this.status.textContent = `coordinates of ${d.Nshown.toLocaleString()} pairs on their way from the kernel`;
      return;
    }
    const parts = [`${d.n.toLocaleString()} points`];
    if (d.sample) {
      const drawn = d.zoom ? d.N - d.zoom.pairs.length : d.N;
      parts.push(`a seeded sample of ${drawn.toLocaleString()} of ${d.Nshown.toLocaleString()} pairs (max_points); selections pick among the drawn pairs`);
      if (d.zoom) {
        const all = d.zoom.pairs.length + drawn >= d.zoom.inView;
        parts.push(`zoomed in: +${d.zoom.pairs.length.toLocaleString()} pairs from the kernel (${all ? "every" : "a sample of the"} ${d.zoom.inView.toLocaleString()} pairs in view)`);
      } else {
        parts.push("zoom in for more");
      }
    }
    if (d.showLines && d.M > 1 && d.N > LINE_LIMIT) {
      parts.push(`pair lines for hovered${this.selected.size && this.selected.size <= LINE_LIMIT ? " and selected" : ""} pairs (over ${LINE_LIMIT.toLocaleString()} pairs)`);
    }
    const k = this.selected.size;
    if (k) {
      const region = k * d.M > HIGHLIGHT_LIMIT ? " (outlined: too many to mark one by one)" : "";
      parts.push(`${k.toLocaleString()} pair${k === 1 ? "" : "s"} selected${region}`);
    }
    this.status.textContent = parts.join(" · ");
  }

  /** Hovered or linked pair (line + rings) and the box being dragged. */
  drawOverlay() {
    const ctx = this.octx;
    if (!ctx) return;
    ctx.clearRect(0, 0, this.W, this.H);
    const d = this.data;
    if (d && this.window && !this.transitioning) {
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
      this._clipToPlot(ctx);
      drawFocus(ctx, d, pairs, items, (i) => this._screen(i), colorOf);
      if (this.query) {
        const rings = (this.query.rings || []).filter((r) => r.item >= 0 && r.item < d.n);
        const drawn = drawQuery(ctx, { ...this.query, rings }, (x, y) => this._dataToStage(x, y), (i) => this._screen(i),
          { left: PAD.left, top: PAD.top, side: this.plot });
        this.root.dataset.query = JSON.stringify({ label: this.query.label || "", star: drawn.star && drawn.star.map((v) => Math.round(v)), offView: drawn.offView, arrows: drawn.arrows, rings: drawn.rings });
      }
      ctx.restore();
    }
    if (!this.query) delete this.root.dataset.query;
    // A selection too large to mark point by point: where its items are now (any projection,
    // zoom or pan) stays clear and outlined, the rest is veiled (as the renderer fades the
    // points outside a smaller selection); and the box / lasso that made it, while its
    // coordinates are shown. Then the box / lasso being drawn.
    const big = d && this.window && !this.transitioning && this.selected.size * d.M > HIGHLIGHT_LIMIT;
    if (big) {
      this._clipToPlot(ctx);
      ctx.drawImage(this._footprint().canvas, PAD.left, PAD.top, this.plot, this.plot);
      const region = this.selectionShape;
      if (region && sameCoords(region.xy, d.xy)) {
        drawShape(ctx, { kind: "lasso", points: region.points.map(([x, y]) => this._dataToStage(x, y)) });
      }
      ctx.restore();
    }
    if (this.shape) drawShape(ctx, this.shape);
  }

  /** Stage pixels of data point (x, y) in the current view. */
  _dataToStage(x, y) {
    const v = this.window;
    return [
      PAD.left + ((x - v.x0) / (v.x1 - v.x0)) * this.plot,
      PAD.top + this.plot - ((y - v.y0) / (v.y1 - v.y0)) * this.plot,
    ];
  }

  /**
   * The selected items' footprint on the plot (a canvas of plot x plot pixels): cells of
   * FOOTPRINT_CELL_PX holding no selected item veiled, the border between the two outlined.
   * Cached until the coordinates, the view or the selection change (the overlay redraws
   * on every hover).
   */
  _footprint() {
    const d = this.data, v = this.window, sel = this.selected, plot = this.plot;
    const key = [v.x0, v.x1, v.y0, v.y1, plot].join(",");
    const cached = this.footprintCache;
    if (cached && cached.key === key && cached.selected === sel && sameCoords(cached.xy, d.xy)) return cached;
    const t0 = now();
    const size = Math.ceil(plot / FOOTPRINT_CELL_PX);
    const kx = size / (v.x1 - v.x0), ky = size / (v.y1 - v.y0);
    const mask = new Uint8Array(size * size);
    const xy = d.xy;
    for (const p of sel) {
      for (let m = 0; m < d.M; m++) {
        const i = m * d.N + p;
        const col = Math.floor((xy[2 * i] - v.x0) * kx);
        const row = Math.floor(size - (xy[2 * i + 1] - v.y0) * ky);
        if (col >= 0 && col < size && row >= 0 && row < size) mask[row * size + col] = 1;
      }
    }
    // The veil, one pixel per cell (scaled up without smoothing).
    const cells = document.createElement("canvas");
    cells.width = size;
    cells.height = size;
    const image = new ImageData(size, size);
    const rgba = new Uint32Array(image.data.buffer);
    for (let k = 0; k < mask.length; k++) if (!mask[k]) rgba[k] = VEIL_RGBA;
    cells.getContext("2d").putImageData(image, 0, 0);
    const canvas = document.createElement("canvas");
    canvas.width = plot;
    canvas.height = plot;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(cells, 0, 0, size * FOOTPRINT_CELL_PX, size * FOOTPRINT_CELL_PX);
    // The outline: every cell edge between a selected and an unselected cell.
    const c = FOOTPRINT_CELL_PX;
    ctx.beginPath();
    for (let row = 0; row < size; row++) {
      for (let col = 0; col < size; col++) {
        if (!mask[row * size + col]) continue;
        const x = col * c, y = row * c;
        if (col === 0 || !mask[row * size + col - 1]) { ctx.moveTo(x, y); ctx.lineTo(x, y + c); }
        if (col === size - 1 || !mask[row * size + col + 1]) { ctx.moveTo(x + c, y); ctx.lineTo(x + c, y + c); }
        if (row === 0 || !mask[(row - 1) * size + col]) { ctx.moveTo(x, y); ctx.lineTo(x + c, y); }
        if (row === size - 1 || !mask[(row + 1) * size + col]) { ctx.moveTo(x, y + c); ctx.lineTo(x + c, y + c); }
      }
    }
    ctx.strokeStyle = "rgba(37,99,235,0.85)";
    ctx.lineWidth = 1;
    ctx.stroke();
    this.footprintCache = { key, selected: sel, xy: d.xy, canvas };
    this.root.dataset.footprintMs = (now() - t0).toFixed(1);
    return this.footprintCache;
  }
}

/** A zoomed-in window asks the kernel for more points once the camera has been still this
 * long (ms), and only when it shows at most ZOOM_SHARE of the fitted window's area. */
const VIEWPORT_DEBOUNCE_MS = 300;
const ZOOM_SHARE = 0.5;

/** Cells (CSS pixels) of a large selection's footprint, and the veil over the cells without
 * a selected item (the plot's background, rgba 251, 251, 253, 0.75, as a little-endian Uint32). */
const FOOTPRINT_CELL_PX = 3;
const VEIL_RGBA = ((Math.round(0.75 * 255) << 24) | (253 << 16) | (251 << 8) | 251) >>> 0;

/** True when two coordinate arrays are views of the same data (the same trait value). */
function sameCoords(a, b) {
  return !!a && !!b && (a === b || (a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.length === b.length));
}

function* rangeOf(n) {
  for (let i = 0; i < n; i++) yield i;
}
