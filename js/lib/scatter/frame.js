/**
 * What a scatter view draws around and over its points, whichever renderer draws the
 * points: background, grid with tick labels, axis titles, legend (base layer), pair lines
 * (base layer, under the points), the hovered pair's rings and the box / lasso being drawn
 * (overlay layer).
 */
import { h, niceTicks, tickDigits, fmt } from "../util.js";

export const BACKGROUND = "#fbfbfd";
/** Margins of the square plot inside the stage (axes, tick labels). */
export const PAD = { left: 44, right: 12, top: 12, bottom: 34 };

/**
 * Background, grid, ticks and axis titles of the square plot at (x, y) of side S.
 * `window` is the data range shown ({x0, x1, y0, y1}); `data` gives xLabel / yLabel.
 */
export function drawAxes(ctx, x, y, S, data, window) {
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(x, y, S, S);
  const d = data;
  ctx.font = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
  ctx.fillStyle = "#6b7280";
  if (d && window) {
    const { x0, x1, y0, y1 } = window;
    const xt = niceTicks(x0, x1, 5), yt = niceTicks(y0, y1, 5);
    const xd = tickDigits(xt), yd = tickDigits(yt);
    ctx.strokeStyle = "#eceef2";
    ctx.lineWidth = 1;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of xt) {
      const sx = x + ((t - x0) / (x1 - x0)) * S;
      ctx.beginPath();
      ctx.moveTo(Math.round(sx) + 0.5, y);
      ctx.lineTo(Math.round(sx) + 0.5, y + S);
      ctx.stroke();
      ctx.fillText(fmt(t, xd), sx, y + S + 4);
    }
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const t of yt) {
      const sy = y + S - ((t - y0) / (y1 - y0)) * S;
      ctx.beginPath();
      ctx.moveTo(x, Math.round(sy) + 0.5);
      ctx.lineTo(x + S, Math.round(sy) + 0.5);
      ctx.stroke();
      ctx.fillText(fmt(t, yd), x - 5, sy);
    }
    ctx.fillStyle = "#374151";
    ctx.font = "600 11.5px system-ui, -apple-system, 'Segoe UI', sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(d.xLabel || "x", x + S / 2, y + S + 33);
    ctx.save();
    ctx.translate(11, y + S / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(d.yLabel || "y", 0, 0);
    ctx.restore();
    ctx.textAlign = "start";
  }
  ctx.strokeStyle = "rgba(0,0,0,0.25)";
  ctx.strokeRect(x - 0.5, y - 0.5, S + 1, S + 1);
}

/**
 * Fill `el` with the legend: categorical [{label, color, portrait?}, ...] or a continuous
 * gradient. `portrait(entry, label)` makes the picture of an entry with a `portrait`
 * (a cluster's medoid, portraits.js).
 */
export function renderLegend(el, legend = [], portrait = null) {
  if (!Array.isArray(legend)) {
    const gradient = `linear-gradient(to right, ${legend.gradient.join(",")})`;
    el.replaceChildren(
      h("div", { class: "amumo-legend-title", text: legend.label || "" }),
      h("div", { class: "amumo-legend-gradient", style: { background: gradient } }),
      h("div", { class: "amumo-legend-range" }, h("span", { text: fmt(legend.vmin, 2) }), h("span", { text: fmt(legend.vmax, 2) })),
    );
    el.hidden = false;
    return;
  }
  const shown = legend.slice(0, 12);
  const rows = shown.map((entry) =>
    h("div", { class: "amumo-legend-item" },
      h("span", { class: "amumo-swatch", style: { background: entry.color } }),
      portrait && entry.portrait ? portrait(entry.portrait, entry.label) : null,
      h("span", { text: entry.label })),
  );
  if (legend.length > shown.length) rows.push(h("div", { class: "amumo-legend-more", text: `+ ${(legend.length - shown.length).toLocaleString()} more` }));
  el.replaceChildren(...rows);
  el.hidden = legend.length === 0;
}

/**
 * One polyline per pair through its items' screen positions (`toScreen(item) -> [x, y]`),
 * in the current stroke style. `pairs`: an iterable of drawn pair indices.
 */
export function drawPairLines(ctx, d, toScreen, pairs) {
  ctx.beginPath();
  for (const p of pairs) {
    if (p < 0 || p >= d.N) continue;
    const [x, y] = toScreen(p);
    ctx.moveTo(x, y);
    for (let m = 1; m < d.M; m++) {
      const [xm, ym] = toScreen(m * d.N + p);
      ctx.lineTo(xm, ym);
    }
  }
  ctx.stroke();
}

/** The pairs of `pairs` drawn in focus: a dark line, a ring per item, red for `items`. */
export function drawFocus(ctx, d, pairs, items, toScreen, colorOf) {
  for (const p of pairs) {
    const pts = d.modalities.map((_, m) => toScreen(m * d.N + p));
    if (d.M > 1) {
      ctx.strokeStyle = "rgba(17,24,39,0.85)";
      ctx.lineWidth = 2;
      ctx.beginPath();
      pts.forEach(([x, y], m) => (m ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
    }
    pts.forEach(([x, y], m) => {
      const i = m * d.N + p;
      const focus = items.has(i);
      ctx.beginPath();
      ctx.arc(x, y, focus ? 7.5 : 5.5, 0, Math.PI * 2);
      ctx.fillStyle = colorOf(d, i);
      ctx.fill();
      ctx.lineWidth = focus ? 2.5 : 1.5;
      ctx.strokeStyle = focus ? "#e11d48" : "#111827";
      ctx.stroke();
    });
  }
}

/** A box {kind: "box", x0, y0, x1, y1} or lasso {kind: "lasso", points} in stage pixels. */
export function drawShape(ctx, shape) {
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
