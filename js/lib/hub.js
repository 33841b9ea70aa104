// The Hub links the views of one widget IN THE BROWSER: hover and selection travel between
// views without a kernel round trip; Python is told only the result (`hovered` throttled,
// `selected` debounced).

import { throttle, debounce, now } from "./util.js";

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
