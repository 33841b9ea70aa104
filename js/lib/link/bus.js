// The linking seam of one widget: an event bus the views subscribe to. A view publishes what
// the pointer did (a hovered pair or cell, a selection); every other subscriber hears it at
// once, IN THE BROWSER, so linking costs no kernel round trip. The kernel is one more
// subscriber (link/kernel.js), so a new view (a query marker, an annotation control) joins
// the linking by subscribing: nothing here names the kinds of view.
//
// Events (each payload carries `source`: the publishing view, FROM_KERNEL for a trait set
// in Python, or undefined for a control such as a button):
//   "pair-hover"   {pair, m, t0?, start?}   item m * N + pair is hovered (a point, a row)
//   "cell-hover"   {row, col, t0?, start?}  a heatmap cell: row / col = {pos, pair, m, item, modality}
//   "hover-clear"  {}                       nothing is hovered any more
//   "selection"    {pairs}                  the selected pairs (sorted view indices)
//   "highlight"    {items}                  mark items without making them the hovered pair
//   "query"        {query}                  a typed query to mark (null: none): {point, label,
//                                           color, regions: [{point, label, color}], rings: [item]}
//   "data"         {itemsChanged}           the widget's traits were applied to the views
// `pair` is a view index (Items.view / Items.id convert to and from pair ids).

import { now } from "../util.js";

/** `source` of events that come from the kernel (a trait set in Python): not sent back. */
export const FROM_KERNEL = "kernel";

/** Number of latency samples kept in the root's data attributes. */
const SAMPLES_KEPT = 200;

export class LinkBus {
  /**
   * @param {HTMLElement} root the widget's root element (latency and selection size are
   *   recorded in its data attributes for tests and benchmarks)
   */
  constructor(root) {
    this.root = root;
    this.listeners = new Map(); // type -> {views: [fn], after: [fn]}
    // Recorded once every view has updated, before the kernel hears of it.
    this.on("pair-hover", (e) => this._recordLatency(e), { after: true });
    this.on("cell-hover", (e) => this._recordLatency(e), { after: true });
    this.on("selection", ({ pairs }) => (this.root.dataset.selected = String(pairs.length)), { after: true });
  }

  /**
   * Call `fn(event)` on every event of `type`. With `after`, it runs once every other
   * subscriber has run (and the hover latency is recorded): for work that must not delay the
   * linked views, like writing traits to the kernel. Returns the unsubscribe function.
   */
  on(type, fn, { after = false } = {}) {
    if (!this.listeners.has(type)) this.listeners.set(type, { views: [], after: [] });
    const list = this.listeners.get(type)[after ? "after" : "views"];
    list.push(fn);
    return () => {
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /**
   * Subscribe `view` to several events at once ({type: fn}); events the view published
   * itself are skipped (it already shows them). Returns one unsubscribe function.
   */
  subscribe(view, handlers) {
    const offs = Object.entries(handlers).map(([type, fn]) =>
      this.on(type, (event) => {
        if (event.source !== view) fn(event);
      }),
    );
    return () => offs.forEach((off) => off());
  }

  emit(type, event = {}) {
    const entry = this.listeners.get(type);
    if (!entry) return;
    // Copies: a subscriber may unsubscribe (or subscribe another) while it runs.
    for (const fn of [...entry.views]) fn(event);
    for (const fn of [...entry.after]) fn(event);
  }

  // ---------------------------------------------------------------- publishers
  /** Hover on a heatmap cell (null: the pointer left). `info`: {row, col, t0, start}. */
  cellHover(info, source) {
    if (!info) return this.clearHover(source);
    this.emit("cell-hover", { ...info, source });
  }

  /** Hover on a point, a table row, or a pair set from Python: {pair, m, t0, start}. */
  pairHover(info, source) {
    this.emit("pair-hover", { ...info, source });
  }

  clearHover(source) {
    this.emit("hover-clear", { source });
  }

  /** A new selection of (sorted) pair indices. */
  select(pairs, source) {
    this.emit("selection", { pairs, source });
  }

  /** Mark items (m * N + pair) in the views that draw items, without a hover. */
  highlight(items, source) {
    this.emit("highlight", { items, source });
  }

  /** A typed query to mark in the views that draw points (null: remove it). */
  query(query, source) {
    this.emit("query", { query, source });
  }

  dispose() {
    this.listeners.clear();
  }

  // ---------------------------------------------------------------- latency
  /**
   * Latency from the pointer event (`t0`) to every linked view updated (synchronous work,
   * `hoverMs`), and to the next animation frame (`hoverFrameMs`, when the browser paints
   * it); `start` (the handler's own start) gives the work alone (`hoverWorkSamples`).
   */
  _recordLatency({ t0, start }) {
    if (t0 === undefined) return;
    const push = (name, value) => {
      const samples = (this.root.dataset[name] || "").split(",").filter(Boolean);
      samples.push(value.toFixed(2));
      this.root.dataset[name] = samples.slice(-SAMPLES_KEPT).join(",");
    };
    if (start !== undefined) push("hoverWorkSamples", now() - start);
    const ms = now() - t0;
    this.root.dataset.hoverMs = ms.toFixed(2);
    push("hoverSamples", ms);
    requestAnimationFrame(() => {
      const frame = now() - t0;
      this.root.dataset.hoverFrameMs = frame.toFixed(2);
      push("hoverFrameSamples", frame);
    });
  }
}
