// Heatmap panel: the similarity matrix view with its toolbar bound to the widget's traits.

import { HeatmapView } from "../heatmap_view.js";
import { COLORMAPS } from "../colormaps.js";
import { clusterBySelect } from "../cluster_names.js";
import { heatmapData } from "../decode.js";
import { requestWindow, requestCell, fetchItem } from "../requests.js";
import { staticExport, staticFetchItem } from "../offline.js";
import { mediaCache, portraitElement } from "../portraits.js";
import { h, bind, setOptions, watch } from "../util.js";
import { joinHeatmap } from "../link/views.js";
import { panel, labelled, iconButton } from "./frame.js";

/** Heatmap panel: toolbar (cluster, method, k, colour map, zoom) + view. Returns {root, view, refresh, dispose}. */
export function heatmapPanel(model, rpc, bus, items, opts = {}) {
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
    onHover: (info) => bus.cellHover(info, view),
    onClick: ({ row, col, shift }) => {
      const before = [...view.selectedPairs];
      const next = new Set(shift ? view.selectedPairs : []);
      next.add(row.pair);
      next.add(col.pair);
      const pairs = [...next].sort((a, b) => a - b);
      view.setSelection(pairs); // the bus skips the source view; shift-click adds to this
      bus.select(pairs, view);
      return () => bus.select(before, undefined); // undo (a slow double-click)
    },
    requestWindow: requestWindow(rpc),
    requestCell: requestCell(rpc),
    maxSide: opts.maxSide,
    portrait: portraitMaker(model, rpc, items, 34),
  });
  const leave = joinHeatmap(bus, view, items);
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
  unbind.push(watch(model, ["cluster_status", "cluster", "busy"], syncStatus));
  return {
    root: p.root,
    view,
    refresh,
    traits: ["overview", "overview_size", "scale", "colormap", "order", "cluster_bounds", "cluster_legend", "cluster_portraits"],
    dispose() {
      unbind.forEach((f) => f());
      leave();
      view.dispose();
    },
  };
}

/**
 * (entry, label) -> the picture of a cluster's portrait (portraits.js), fetched lazily through
 * the widget's item requests (or an exported page's thumbnails); `size` in CSS pixels.
 */
export function portraitMaker(model, rpc, items, size) {
  const info = staticExport(model);
  const cache = mediaCache(items, info ? staticFetchItem(info, items) : fetchItem(rpc, items));
  return (entry, label) => portraitElement(entry, cache, { size, label });
}
