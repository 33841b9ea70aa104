// Traits -> view data: each reader turns a widget model's traits (binary buffers as typed
// arrays, no copy) and the shared Items into the object a view's setData() takes.

import { f32, u8, i32 } from "./util.js";

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
    portraits: model.get("cluster_portraits") || [],
    texts: items.texts,
    pairTexts: items.pairTexts,
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
    pairTexts: items.pairTexts,
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
    pairTexts: items.pairTexts,
    textField: items.textField,
    pairIds: items.pairIds,
    version: items.version,
    metaVersion: model.get("meta_version") || 0, // labels written (widgets/annotate.py)
    palette: model.get("modality_colors") || [],
  };
}
