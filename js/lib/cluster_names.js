// Cluster names of the heatmap (the c-TF-IDF words of each cluster's captions, trait
// `cluster_legend`): numbered badges on the matrix and the key that names them, and the
// "cluster by" picker (trait `cluster_by`: "all" or a modality).

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

/** Size of a cluster's number badge on the matrix (CSS pixels; the width grows with digits). */
const BADGE_H = 15;
const BADGE_MIN_W = 15;

/** True when rectangles {x, y, w, h} overlap (touching edges do not count). */
export function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/**
 * Number each cluster on the matrix: a badge "k" (the cluster's entry in the key below the
 * heatmap, see renderClusterKey) on the cluster's square in every diagonal quadrant. Names
 * are not written on the matrix: a cluster's square is often narrower than its name, and
 * its corner is where the quadrant tag sits. A badge goes at the square's centre, or slides
 * along its diagonal, or sits just below or right of a small square, to clear the quadrant
 * tags (`avoid`) and earlier badges; where no place is free it is left out (the key lists
 * every cluster; the tooltip names it).
 * `view` is the HeatmapView (toScreen), `clip` = [left, top, side]. Returns the badges
 * drawn: [{cluster, x, y, w, h}].
 */
export function drawClusterBadges(ctx, view, d, edges, clip, avoid = []) {
  const names = d.clusterNames || [];
  const drawn = [];
  if (!names.length) return drawn;
  const [left, top, side] = clip;
  const taken = [...avoid];
  ctx.save();
  ctx.font = "700 10px system-ui, -apple-system, 'Segoe UI', sans-serif";
  ctx.textBaseline = "middle";
  ctx.textAlign = "center";
  for (let m = 0; m < d.M; m++) {
    for (let e = 0; e + 1 < edges.length; e++) {
      if (!names[e]) continue;
      const [x0, y0] = view.toScreen(m * d.N + edges[e], m * d.N + edges[e]);
      const [x1, y1] = view.toScreen(m * d.N + edges[e + 1], m * d.N + edges[e + 1]);
      // The visible part of the cluster's square.
      const vx0 = Math.max(x0, left), vy0 = Math.max(y0, top);
      const vx1 = Math.min(x1, left + side), vy1 = Math.min(y1, top + side);
      if (vx1 <= vx0 || vy1 <= vy0) continue;
      const label = String(e + 1);
      const w = Math.max(BADGE_MIN_W, Math.ceil(ctx.measureText(label).width) + 8), hgt = BADGE_H;
      // Candidates: along the square's diagonal from its centre toward each corner (when it
      // is big enough), then just below it (its columns) and just right of it (its rows).
      const cx = (vx0 + vx1) / 2, cy = (vy0 + vy1) / 2;
      const candidates = [];
      if (vx1 - vx0 >= w + 2 && vy1 - vy0 >= hgt + 2) {
        const spanX = (vx1 - vx0 - w) / 2 - 1, spanY = (vy1 - vy0 - hgt) / 2 - 1;
        for (const t of [0, 0.25, 0.5, 0.75, 1, -0.25, -0.5, -0.75, -1]) candidates.push([cx + t * spanX - w / 2, cy + t * spanY - hgt / 2]);
      }
      // Inside this diagonal quadrant's visible part.
      const [qx0, qy0] = view.toScreen(m * d.N, m * d.N);
      const [qx1, qy1] = view.toScreen((m + 1) * d.N, (m + 1) * d.N);
      const inside = (r) => r.x >= Math.max(qx0, left) && r.y >= Math.max(qy0, top)
        && r.x + r.w <= Math.min(qx1, left + side) && r.y + r.h <= Math.min(qy1, top + side);
      const free = (r) => inside(r) && !taken.some((t) => overlaps(t, r));
      let place = null;
      for (const [x, y] of candidates) {
        const rect = { x: Math.round(x), y: Math.round(y), w, h: hgt };
        if (free(rect)) {
          place = rect;
          break;
        }
      }
      // Below the square (sliding down past what is in the way, at most 3 badges), then right of it.
      for (const dy of [true, false]) {
        if (place) break;
        const rect = dy ? { x: Math.round(cx - w / 2), y: Math.round(vy1 + 2), w, h: hgt } : { x: Math.round(vx1 + 2), y: Math.round(cy - hgt / 2), w, h: hgt };
        const limit = dy ? vy1 + 3 * hgt : vx1 + 3 * w;
        while ((dy ? rect.y : rect.x) <= limit && inside(rect)) {
          const block = taken.find((t) => overlaps(t, rect));
          if (!block) {
            place = rect;
            break;
          }
          if (dy) rect.y = block.y + block.h + 2;
          else rect.x = block.x + block.w + 2;
        }
      }
      if (!place) continue;
      taken.push(place);
      drawn.push({ cluster: e, ...place });
      ctx.fillStyle = "rgba(17,24,39,0.82)";
      roundedRect(ctx, place.x, place.y, w, hgt, 4);
      ctx.fill();
      ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.lineWidth = 1;
      ctx.stroke();
      ctx.fillStyle = "#ffffff";
      ctx.fillText(label, place.x + w / 2, place.y + hgt / 2 + 0.5);
    }
  }
  ctx.restore();
  return drawn;
}

function roundedRect(ctx, x, y, w, hgt, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + hgt, r);
  ctx.arcTo(x + w, y + hgt, x, y + hgt, r);
  ctx.arcTo(x, y + hgt, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

/**
 * The cluster key under a heatmap: one entry per named cluster, "k  [portrait]  name
 * (pairs)", whole names wrapped onto lines as needed (never cut). `onHover(e | null)` is
 * called when the pointer enters or leaves entry e (the view outlines that cluster).
 * `portrait(entry, label)` makes the picture of a cluster whose `d.portraits[e]` names its
 * medoid pair (portraits.js; image clusters: a thumbnail, audio: a play button). Fills
 * `el`; hides it without names.
 */
export function renderClusterKey(el, d, onHover = () => {}, portrait = null) {
  const names = d.clusterNames || [];
  const bounds = d.bounds || [];
  const portraits = d.portraits || [];
  const edges = [0, ...bounds, d.N];
  el.hidden = !names.length;
  el.classList.toggle("amumo-cluster-key-portraits", !!portrait && portraits.some((p) => p && p.pair !== undefined));
  if (!names.length) {
    el.replaceChildren();
    return;
  }
  el.replaceChildren(...names.map((name, e) => {
    const size = edges[e + 1] - edges[e];
    const picture = portrait && portraits[e] ? portrait(portraits[e], `cluster ${e + 1}`) : null;
    return h("li", {
      class: "amumo-cluster-key-item",
      "data-cluster": e + 1,
      title: Number.isFinite(size) ? `cluster ${e + 1}: ${size.toLocaleString()} pairs` : `cluster ${e + 1}`,
      onmouseenter: () => onHover(e),
      onmouseleave: () => onHover(null),
    },
    h("span", { class: "amumo-cluster-badge", text: String(e + 1) }),
    picture,
    h("span", { class: "amumo-cluster-name", text: name }),
    Number.isFinite(size) ? h("span", { class: "amumo-muted amumo-cluster-size", text: `(${size.toLocaleString()})` }) : null);
  }));
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
