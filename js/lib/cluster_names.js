// Cluster names on the heatmap (the c-TF-IDF words of each cluster's captions, trait
// `cluster_legend`) and the "cluster by" picker (trait `cluster_by`: "all" or a modality).

import { h } from "./util.js";

/** <select> bound to `cluster_by`, options "all" + the modalities. Returns {el, dispose}. */
export function clusterBySelect(model) {
  const select = h("select", { class: "amumo-cluster-by", "aria-label": "cluster by", title: "Cluster on the similarities of one modality, or of all" });
  const sync = () => {
    const options = ["all", ...(model.get("modalities") || [])];
    select.replaceChildren(...options.map((o) => h("option", { value: o, text: o === "all" ? "by all" : `by ${o}` })));
    select.value = options.includes(model.get("cluster_by")) ? model.get("cluster_by") : "all";
  };
  select.addEventListener("change", () => {
    model.set("cluster_by", select.value);
    model.save_changes();
  });
  const syncDisabled = () => { select.disabled = !model.get("cluster"); };
  model.on("change:modalities", sync);
  model.on("change:cluster_by", sync);
  model.on("change:cluster", syncDisabled);
  sync();
  syncDisabled();
  return {
    el: select,
    dispose: () => {
      model.off("change:modalities", sync);
      model.off("change:cluster_by", sync);
      model.off("change:cluster", syncDisabled);
    },
  };
}

/**
 * Draw each cluster's name at its boundary: in every diagonal quadrant, a tag at the top-left
 * corner of the cluster's square when that square is at least 14 px tall on screen.
 * `view` is the HeatmapView (toScreen), `clip` = [left, top, side].
 */
export function drawClusterNames(ctx, view, d, edges, clip) {
  const names = d.clusterNames || [];
  if (!names.length) return;
  const [left, top, side] = clip;
  ctx.save();
  ctx.font = "600 10px system-ui, -apple-system, 'Segoe UI', sans-serif";
  ctx.textBaseline = "middle";
  for (let m = 0; m < d.M; m++) {
    // This diagonal quadrant on screen; its top-left corner holds the quadrant tag.
    const [qx0, qy0] = view.toScreen(m * d.N, m * d.N);
    const [qx1, qy1] = view.toScreen((m + 1) * d.N, (m + 1) * d.N);
    const vx0 = Math.max(qx0, left), vy0 = Math.max(qy0, top);
    const vx1 = Math.min(qx1, left + side), vy1 = Math.min(qy1, top + side);
    if (vx1 - vx0 < 40 || vy1 - vy0 < 14) continue;
    const tagBottom = vx1 - vx0 >= 90 && vy1 - vy0 >= 30 ? vy0 + 24 : vy0; // see _drawSeparators
    ctx.save();
    ctx.beginPath();
    ctx.rect(vx0, vy0, vx1 - vx0, vy1 - vy0);
    ctx.clip();
    for (let e = 0; e + 1 < edges.length; e++) {
      const [x0, y0] = view.toScreen(m * d.N + edges[e], m * d.N + edges[e]);
      const [, y1] = view.toScreen(m * d.N + edges[e + 1], m * d.N + edges[e + 1]);
      const x = Math.max(vx0 + 2, x0 + 2);
      let y = Math.max(vy0 + 2, y0 + 2);
      if (x < vx0 + 120) y = Math.max(y, tagBottom); // keep clear of the quadrant tag
      if (y + 14 > Math.min(y1, vy1) || x > vx1 - 20) continue;
      const name = names[e] || ""; // clusters are numbered in the order they appear
      if (!name) continue;
      const w = ctx.measureText(name).width + 8;
      ctx.fillStyle = "rgba(17,24,39,0.72)";
      ctx.fillRect(x, y, w, 14);
      ctx.fillStyle = "#ffffff";
      ctx.fillText(name, x + 4, y + 7);
    }
    ctx.restore();
  }
  ctx.restore();
}

/** Name of the cluster at display position `pos` (null without named clusters). */
export function clusterNameAt(d, pos) {
  const names = d.clusterNames || [];
  if (!names.length || !d.bounds || !d.bounds.length || !d.N) return null;
  const within = pos % d.N;
  let e = 0;
  while (e < d.bounds.length && d.bounds[e] <= within) e++;
  return names[e] || null;
}

/** Tooltip line naming the row's and column's clusters (null without named clusters). */
export function clusterTipLine(d, r, c) {
  const a = clusterNameAt(d, r), b = clusterNameAt(d, c);
  if (!a && !b) return null;
  return h("div", { class: "amumo-tip-row amumo-tip-cluster" }, h("b", { text: "cluster: " }), a === b ? a : `${a} / ${b}`);
}
