// Glue between anywidget models and the views: read traits into view data, build the
// per-view toolbars bound to traits, and link hover/selection between views IN THE
// BROWSER (the Hub), telling Python only the result (`hovered`, debounced `selected`).

import { HeatmapView } from "./heatmap_view.js";
import { ScatterView } from "./scatter_view.js";
import { PreviewView } from "./preview_view.js";
import { COLORMAPS } from "./colormaps.js";
import { clusterBySelect } from "./cluster_names.js";
import { staticExport, staticFetchItem } from "./offline.js";
import { h, f32, u8, i32, decodeTexts, bind, setOptions, throttle, debounce, inverse, now } from "./util.js";

// ------------------------------------------------------------------ shared item data
/** Pair/text data common to all views of one model (recomputed when the traits change). */
export class Items {
  constructor(model) {
    this.model = model;
    this.refresh();
  }
  refresh() {
    const m = this.model;
    this.modalities = m.get("modalities") || [];
    this.N = m.get("n_pairs") || 0;
    const ids = i32(m.get("pair_ids"));
    this.pairIds = ids.length === this.N && this.N > 0 ? ids : null;
    this.maxId = this.pairIds ? this.pairIds.reduce((a, b) => Math.max(a, b), 0) + 1 : this.N;
    this.toView = this.pairIds ? inverse(this.pairIds, this.maxId) : null;
    this.texts = decodeTexts(m.get("texts"));
    this.textField = m.get("text_field") || "";
    this.version = m.get("data_version") || 0;
  }
  id(pair) {
    return this.pairIds ? this.pairIds[pair] : pair;
  }
  view(id) {
    if (id === null || id === undefined || id < 0) return -1;
    if (!this.toView) return id < this.N ? id : -1;
    return id < this.toView.length ? this.toView[id] : -1;
  }
  itemsOfPair(pair) {
    return this.modalities.map((_, m) => m * this.N + pair);
  }
}

// ------------------------------------------------------------------ hub
/**
 * Links views of one widget. Each view reports hover/selection here; the hub updates the
 * other views synchronously (so linking costs no kernel round trip), records the latency in
 * `root.dataset.hoverMs`, and writes `hovered` (throttled) and `selected` (debounced) to Python.
 */
export class Hub {
  constructor(model, root, items) {
    this.model = model;
    this.root = root;
    this.items = items;
    this.heatmaps = [];
    this.scatters = [];
    this.previews = [];
    this.localHover = false;
    this.lastHover = -1;
    this.lastSelected = "";
    this.sendHover = throttle((pairId, cell) => {
      this.lastHover = pairId;
      this.localHover = true;
      model.set("hovered", pairId);
      model.set("hovered_cell", cell);
      model.save_changes();
      this.localHover = false;
    }, 60);
    this.sendSelection = debounce((ids) => {
      this.lastSelected = ids.join(",");
      this.localSelect = true;
      model.set("selected", ids);
      model.save_changes();
      this.localSelect = false;
    }, 200);
    this.onHoveredTrait = () => {
      // Ignore our own value coming back (ipywidgets echoes updates to every view).
      if (this.localHover || model.get("hovered") === this.lastHover) return;
      this.lastHover = model.get("hovered");
      const pair = this.items.view(model.get("hovered"));
      if (pair < 0) this.clearHover();
      else this.pairHover({ pair, m: 0 }, null, false);
    };
    this.onSelectedTrait = () => {
      const ids = model.get("selected") || [];
      if (this.localSelect || ids.join(",") === this.lastSelected) return;
      this.lastSelected = ids.join(",");
      const pairs = (model.get("selected") || []).map((id) => this.items.view(id)).filter((p) => p >= 0);
      this.applySelection(pairs, null);
    };
    model.on("change:hovered", this.onHoveredTrait);
    model.on("change:selected", this.onSelectedTrait);
  }

  dispose() {
    this.model.off("change:hovered", this.onHoveredTrait);
    this.model.off("change:selected", this.onSelectedTrait);
  }

  mark(t0, start) {
    if (t0 === undefined) return;
    if (start !== undefined) {
      const work = now() - start;
      const samples = (this.root.dataset.hoverWorkSamples || "").split(",").filter(Boolean);
      samples.push(work.toFixed(2));
      this.root.dataset.hoverWorkSamples = samples.slice(-200).join(",");
    }
    // Latency from the pointer event to every linked view updated (synchronous work),
    // and to the next animation frame (when the browser paints the result).
    const ms = now() - t0;
    const push = (name, value) => {
      const samples = (this.root.dataset[name] || "").split(",").filter(Boolean);
      samples.push(value.toFixed(2));
      this.root.dataset[name] = samples.slice(-200).join(",");
    };
    this.root.dataset.hoverMs = ms.toFixed(2);
    push("hoverSamples", ms);
    requestAnimationFrame(() => {
      const frame = now() - t0;
      this.root.dataset.hoverFrameMs = frame.toFixed(2);
      push("hoverFrameSamples", frame);
    });
  }

  /** Hover from a heatmap cell: highlight both items, preview both, tell Python. */
  cellHover(info, source) {
    if (!info) return this.clearHover(source);
    const { row, col, t0, start } = info;
    const items = [row.item, col.item];
    for (const view of this.heatmaps) if (view !== source) view.setLinked({ cell: [row.pos, col.pos] });
    for (const view of this.scatters) view.setLinked({ items });
    const entries = [{ pair: row.pair, m: row.m, role: "row" }];
    if (col.item !== row.item) entries.push({ pair: col.pair, m: col.m, role: "column" });
    for (const view of this.previews) view.show(entries);
    this.mark(t0, start);
    const cell = { row: [row.modality, this.items.id(row.pair)], col: [col.modality, this.items.id(col.pair)] };
    this.sendHover(this.items.id(row.pair), cell);
  }

  /** Hover on a point (or a pair set from Python): highlight the pair everywhere. */
  pairHover({ pair, m, t0, start }, source, send = true) {
    const items = this.items.itemsOfPair(pair);
    for (const view of this.heatmaps) if (view !== source) view.setLinked({ items });
    for (const view of this.scatters) if (view !== source) view.setLinked({ items: [m * this.items.N + pair] });
    const entries = [{ pair, m, role: "point" }];
    this.items.modalities.forEach((_, k) => {
      if (k !== m) entries.push({ pair, m: k, role: "pair" });
    });
    for (const view of this.previews) view.show(entries);
    this.mark(t0, start);
    if (send) this.sendHover(this.items.id(pair), {});
  }

  clearHover(source) {
    for (const view of [...this.heatmaps, ...this.scatters]) if (view !== source) view.setLinked(null);
    for (const view of this.previews) view.show([]);
    if (source !== null) this.sendHover(-1, {});
  }

  applySelection(pairs, source) {
    for (const view of [...this.heatmaps, ...this.scatters]) if (view !== source) view.setSelection(pairs);
    for (const view of this.previews) view.setSelection(pairs);
    this.root.dataset.selected = String(pairs.length);
    if (source !== null) this.sendSelection(this.items.pairIds ? pairs.map((p) => this.items.id(p)) : pairs);
  }
}

// ------------------------------------------------------------------ messages
export function requestWindow(rpc, extra = {}) {
  return ({ r0, r1, c0, c1 }) =>
    rpc.call({ type: "window", r0, r1, c0, c1, ...extra }).then(({ msg, buffers }) => {
      if (msg.error) throw new Error(msg.error);
      return { values: f32(buffers[0]) };
    });
}

export function requestCell(rpc, extra = {}) {
  return (r, c) =>
    rpc.call({ type: "cell", r, c, ...extra }).then(({ msg }) => {
      if (msg.error) throw new Error(msg.error);
      return msg.value;
    });
}

export function fetchItem(rpc, items) {
  return (pair, modality) =>
    rpc.call({ type: "item", pair: items.id(pair), modality }).then(({ msg, buffers }) => ({
      fields: msg.fields || null,
      error: msg.error || null,
      credit: msg.credit || null,
      text: msg.text ?? null, // molecules: the SMILES string
      duration: msg.duration ?? null, // audio: seconds
      fullDuration: msg.full_duration ?? null, // audio cut to the preview's limit
      image: buffers && buffers.length && msg.mime ? new Blob([buffers[0]], { type: msg.mime }) : null,
    }));
}

// ------------------------------------------------------------------ data readers
export function heatmapData(model, items) {
  return {
    N: items.N,
    modalities: items.modalities,
    overview: u8(model.get("overview")),
    size: model.get("overview_size") || 0,
    vmin: model.get("scale")[0],
    vmax: model.get("scale")[1],
    colormap: model.get("colormap"),
    order: i32(model.get("order")),
    bounds: i32(model.get("cluster_bounds")),
    clusterNames: model.get("cluster_legend") || [],
    texts: items.texts,
    pairIds: items.pairIds,
  };
}

export function scatterData(model, items) {
  const labels = model.get("axis_labels") || ["x", "y"];
  return {
    xy: f32(model.get("xy")),
    sample: i32(model.get("scatter_pairs")),
    N: items.N,
    modalities: items.modalities,
    codes: u8(model.get("colors")),
    palette: model.get("palette"),
    legend: model.get("legend").kind === "continuous" ? model.get("legend") : model.get("legend").items || [],
    showLines: model.get("show_lines"),
    xLabel: labels[0],
    yLabel: labels[1],
    texts: items.texts,
    pairIds: items.pairIds,
  };
}

export function previewData(model, items) {
  return {
    N: items.N,
    modalities: items.modalities,
    kinds: model.get("kinds") || {},
    media: model.get("media") || {},
    texts: items.texts,
    textField: items.textField,
    pairIds: items.pairIds,
    version: items.version,
    palette: model.get("modality_colors") || [],
  };
}

// ------------------------------------------------------------------ panels
/** A panel: title row (title + icon buttons), optional control row, body. */
function panel(title, cls, icons = [], controls = []) {
  const head = h("div", { class: "amumo-panel-head" }, h("span", { class: "amumo-panel-title", text: title }), h("div", { class: "amumo-toolbar amumo-icons" }, ...icons));
  const row = controls.length ? h("div", { class: "amumo-toolbar amumo-controls-row" }, ...controls) : null;
  const body = h("div", { class: "amumo-panel-body" });
  const root = h("section", { class: `amumo-panel ${cls}` }, head, row, body);
  return { root, head, body };
}

function labelled(text, control, title = "") {
  return h("label", { class: "amumo-field", title }, h("span", { text }), control);
}

function iconButton(text, title, onclick, cls = "") {
  return h("button", { class: `amumo-btn ${cls}`, type: "button", title, "aria-label": title, onclick, text });
}

/** Heatmap panel: toolbar (cluster, method, k, colour map, zoom) + view. Returns {root, view, refresh, dispose}. */
export function heatmapPanel(model, rpc, hub, items, opts = {}) {
  const unbind = [];
  const cluster = h("input", { type: "checkbox", class: "amumo-cluster-toggle" });
  const method = h("select", { class: "amumo-cluster-method" });
  setOptions(method, (model.get("cluster_methods") || ["average"]).map((m) => [m, m]));
  const k = h("input", { type: "number", min: 1, max: 50, step: 1, class: "amumo-cluster-k" });
  const cmap = h("select", { class: "amumo-colormap", title: "colour map" });
  setOptions(cmap, COLORMAPS.map((c) => [c, c]));
  unbind.push(bind(model, "cluster", cluster, { kind: "checked" }));
  unbind.push(bind(model, "cluster_method", method));
  unbind.push(bind(model, "cluster_k", k, { parse: (v) => Math.max(1, parseInt(v || "1", 10)) }));
  unbind.push(bind(model, "colormap", cmap));
  // Colour range: follows the shown data unless locked (kernel trait `scale_locked`).
  const lock = h("input", { type: "checkbox", class: "amumo-scale-lock" });
  const hasLock = model.get("scale_locked") !== undefined && model.get("scale_locked") !== null;
  if (hasLock) unbind.push(bind(model, "scale_locked", lock, { kind: "checked" }));
  const clusterBy = clusterBySelect(model);
  unbind.push(clusterBy.dispose);
  const status = h("span", { class: "amumo-chip amumo-busy-chip", hidden: true });
  const p = panel(
    opts.title || "Similarity",
    "amumo-heatmap-panel",
    [
      status,
      iconButton("+", "Zoom in (wheel)", () => view.zoomBy(2)),
      iconButton("−", "Zoom out (wheel)", () => view.zoomBy(0.5)),
      iconButton("⤢", "Reset zoom (double-click)", () => view.resetZoom()),
    ],
    [
      h("label", { class: "amumo-switch", title: "Reorder pairs by hierarchical clustering" }, cluster, h("span", { text: "cluster" })),
      method,
      clusterBy.el,
      labelled("k", k, "number of clusters whose boundaries are drawn"),
      cmap,
      hasLock
        ? h("label", { class: "amumo-switch", title: "Lock the colour range: keep it while λ, close the gap or the filter change (off: the range follows the shown data)" }, lock, h("span", { text: "lock range" }))
        : null,
    ],
  );
  const view = new HeatmapView(p.body, {
    onHover: (info) => hub.cellHover(info, view),
    onClick: ({ row, col, shift }) => {
      const before = [...view.selectedPairs];
      const next = new Set(shift ? view.selectedPairs : []);
      next.add(row.pair);
      next.add(col.pair);
      const pairs = [...next].sort((a, b) => a - b);
      view.setSelection(pairs); // the hub skips the source view; shift-click adds to this
      hub.applySelection(pairs, view);
      return () => hub.applySelection(before, undefined); // undo (a slow double-click)
    },
    requestWindow: requestWindow(rpc),
    requestCell: requestCell(rpc),
    maxSide: opts.maxSide,
  });
  hub.heatmaps.push(view);
  const syncStatus = () => {
    const text = model.get("cluster_status");
    status.hidden = !text;
    status.textContent = text || "";
    if (view.setBusy) view.setBusy((model.get("busy") || {}).heatmap || "");
    method.disabled = !model.get("cluster");
    k.disabled = !model.get("cluster");
  };
  syncStatus();
  const refresh = () => view.setData(heatmapData(model, items));
  model.on("change:cluster_status", syncStatus);
  model.on("change:cluster", syncStatus);
  model.on("change:busy", syncStatus);
  return {
    root: p.root,
    view,
    refresh,
    traits: ["overview", "overview_size", "scale", "colormap", "order", "cluster_bounds", "cluster_legend"],
    dispose() {
      unbind.forEach((f) => f());
      model.off("change:cluster_status", syncStatus);
      model.off("change:cluster", syncStatus);
      model.off("change:busy", syncStatus);
      view.dispose();
    },
  };
}

/** Scatter panel: toolbar (projection, components, colour, lines, selection mode) + view. */
export function scatterPanel(model, rpc, hub, items, opts = {}) {
  const unbind = [];
  const projection = h("select", { class: "amumo-projection" });
  setOptions(projection, (model.get("projections") || ["pca"]).map((m) => [m, m === "gap" ? "gap axis" : m.toUpperCase().replace("TSNE", "t-SNE")]));
  const xc = h("select", { class: "amumo-x-component" });
  const yc = h("select", { class: "amumo-y-component" });
  const colorBy = h("select", { class: "amumo-color-by" });
  const lines = h("input", { type: "checkbox", class: "amumo-lines-toggle" });
  const syncOptions = () => {
    const count = model.get("n_components") || 2;
    const prefix = (model.get("axis_prefix") || "PC").trim();
    const name = (i) => (prefix !== "gap" ? `${prefix} ${i + 1}` : i === 0 ? "gap axis" : `PC ${i} ⊥ Δ`);
    const opt = Array.from({ length: count }, (_, i) => [String(i), name(i)]);
    setOptions(xc, opt, String(model.get("x_component")));
    setOptions(yc, opt, String(model.get("y_component")));
    setOptions(colorBy, (model.get("color_options") || ["modality"]).map((c) => [c, c]), model.get("color_by"));
  };
  syncOptions();
  unbind.push(bind(model, "projection", projection));
  unbind.push(bind(model, "x_component", xc, { parse: Number, format: String }));
  unbind.push(bind(model, "y_component", yc, { parse: Number, format: String }));
  unbind.push(bind(model, "color_by", colorBy));
  unbind.push(bind(model, "show_lines", lines, { kind: "checked" }));
  const modes = ["box", "lasso", "pan"].map((mode) =>
    iconButton({ box: "▭", lasso: "◌", pan: "✥" }[mode], { box: "Box select (drag)", lasso: "Lasso select (or shift-drag)", pan: "Pan (or alt-drag)" }[mode], () => setMode(mode), `amumo-mode amumo-mode-${mode}`),
  );
  const setMode = (mode) => {
    view.setMode(mode);
    modes.forEach((b) => b.classList.toggle("amumo-active", b.classList.contains(`amumo-mode-${mode}`)));
  };
  const p = panel(
    opts.title || "Projection",
    "amumo-scatter-panel",
    [
      ...modes,
      iconButton("⤢", "Reset view (double-click)", () => view.resetView()),
      iconButton("✕", "Clear selection", () => hub.applySelection([], undefined), "amumo-clear-selection"),
    ],
    [
      projection,
      xc,
      yc,
      labelled("colour", colorBy),
      h("label", { class: "amumo-switch", title: "Draw a line between the items of each pair" }, lines, h("span", { text: "pairs" })),
    ],
  );
  const view = new ScatterView(p.body, {
    onHover: (info) => (info ? hub.pairHover(info, view) : hub.clearHover(view)),
    onSelect: (pairs) => hub.applySelection(pairs, view),
    // Above the kernel's TEXTS_LIMIT no texts are sent: the tooltip asks for the hovered one.
    fetchText: (pair) => fetchItem(rpc, items)(pair, null).then((r) => (r.fields && items.textField ? String(r.fields[items.textField] ?? "") : "")),
    maxSide: opts.maxSide,
  });
  setMode("box");
  hub.scatters.push(view);
  const syncBusy = () => view.setBusy(model.get("projection_status") || (model.get("busy") || {}).scatter || "");
  syncBusy();
  model.on("change:busy", syncBusy);
  const refresh = () => view.setData(scatterData(model, items));
  model.on("change:projection_status", syncBusy);
  model.on("change:n_components", syncOptions);
  model.on("change:color_options", syncOptions);
  model.on("change:axis_prefix", syncOptions);
  return {
    root: p.root,
    view,
    refresh,
    traits: ["xy", "scatter_pairs", "colors", "palette", "legend", "show_lines", "axis_labels"],
    dispose() {
      unbind.forEach((f) => f());
      model.off("change:projection_status", syncBusy);
      model.off("change:busy", syncBusy);
      model.off("change:n_components", syncOptions);
      model.off("change:color_options", syncOptions);
      model.off("change:axis_prefix", syncOptions);
      view.dispose();
    },
  };
}

/** Preview panel. */
export function previewPanel(model, rpc, hub, items, opts = {}) {
  const p = panel(opts.title || "Preview", "amumo-preview-panel");
  const info = staticExport(model); // a save_html page answers from the exported data
  const view = new PreviewView(p.body, { fetchItem: info ? staticFetchItem(info, items) : fetchItem(rpc, items) });
  hub.previews.push(view);
  const refresh = () => view.setData(previewData(model, items));
  return { root: p.root, view, refresh, traits: ["kinds", "media", "modality_colors"], dispose() { view.dispose(); } };
}

const ITEM_TRAITS = ["modalities", "n_pairs", "pair_ids", "texts", "text_field", "data_version"];

/**
 * Refresh panels when their traits change. All changes of one kernel message arrive as a
 * burst of change events; they are coalesced into one refresh (a microtask later), with the
 * pair-level `items` refreshed first so views never see new arrays with old sizes.
 * `after()` runs after every flush (e.g. to set data-rendered). Returns an unsubscribe function.
 */
export function connect(model, items, panels, after = () => {}) {
  let dirtyItems = false;
  const dirty = new Set();
  let queued = false;
  const flush = () => {
    queued = false;
    if (dirtyItems) items.refresh();
    const all = dirtyItems ? new Set(panels) : new Set(dirty);
    dirtyItems = false;
    dirty.clear();
    for (const p of all) p.refresh();
    after();
  };
  const queue = () => {
    if (!queued) {
      queued = true;
      queueMicrotask(flush);
    }
  };
  const handlers = [];
  for (const name of ITEM_TRAITS) {
    const fn = () => { dirtyItems = true; queue(); };
    model.on(`change:${name}`, fn);
    handlers.push([name, fn]);
  }
  for (const p of panels) {
    for (const name of p.traits || []) {
      const fn = () => { dirty.add(p); queue(); };
      model.on(`change:${name}`, fn);
      handlers.push([name, fn]);
    }
  }
  return () => handlers.forEach(([name, fn]) => model.off(`change:${name}`, fn));
}
