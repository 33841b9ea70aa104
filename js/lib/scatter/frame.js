/**
 * What a scatter view draws around and over its points, whichever renderer draws the
 * points: background, grid with tick labels, axis titles, legend (base layer), pair lines
 * (base layer, under the points), the hovered pair's rings and the box / lasso being drawn
 * (overlay layer).
 */
import { h, niceTicks, tickDigits, fmt } from "../util.js";

export const BACKGROUND = "#fbfbfd";
/** Margins of the square plot inside the stage (axes, tick labels). */
export const PAD = { left: 56, right: 12, top: 12, bottom: 34 };
/** Where the y-axis title ends (11.5 px text centred at x = 11): tick labels stay right of it. */
const Y_TITLE_RIGHT = 16;
const SUPERSCRIPT = { "-": "\u207b", 0: "\u2070", 1: "\u00b9", 2: "\u00b2", 3: "\u00b3", 4: "\u2074", 5: "\u2075", 6: "\u2076", 7: "\u2077", 8: "\u2078", 9: "\u2079" };

/**
 * Labels of the y ticks that fit in `room` pixels left of the plot: as they are, or, when
 * fine ticks need more decimals than fit ("−0.002"), the ticks times 10^digits ("−2") with
 * " ×10⁻³" for the axis title. Returns {labels, suffix}.
 */
export function yTickLabels(ctx, ticks, digits, room) {
  const plain = ticks.map((t) => fmt(t, digits));
  const widest = Math.max(0, ...plain.map((text) => ctx.measureText(text).width));
  if (widest <= room || digits < 1) return { labels: plain, suffix: "" };
  const scale = Math.pow(10, digits);
  const power = String(-digits).split("").map((c) => SUPERSCRIPT[c]).join("");
  return { labels: ticks.map((t) => fmt(Math.round(t * scale), 0)), suffix: ` \u00d710${power}` };
}

/**
 * Background, grid, ticks and axis titles of the square plot at (x, y) of side S.
 * `window` is the data range shown ({x0, x1, y0, y1}); `data` gives xLabel / yLabel.
 * Returns what the y axis reads ({yTicks: [text], yTitle}), or null before there is data.
 */
export function drawAxes(ctx, x, y, S, data, window) {
  let shown = null;
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
    const { labels, suffix } = yTickLabels(ctx, yt, yd, x - 5 - Y_TITLE_RIGHT);
    yt.forEach((t, k) => {
      const sy = y + S - ((t - y0) / (y1 - y0)) * S;
      ctx.beginPath();
      ctx.moveTo(x, Math.round(sy) + 0.5);
      ctx.lineTo(x + S, Math.round(sy) + 0.5);
      ctx.stroke();
      ctx.fillText(labels[k], x - 5, sy);
    });
    ctx.fillStyle = "#374151";
    ctx.font = "600 11.5px system-ui, -apple-system, 'Segoe UI', sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(d.xLabel || "x", x + S / 2, y + S + 33);
    ctx.save();
    ctx.translate(11, y + S / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    const yTitle = (d.yLabel || "y") + suffix;
    ctx.fillText(yTitle, 0, 0);
    ctx.restore();
    shown = { yTicks: labels, yTitle };
    ctx.textAlign = "start";
  }
  ctx.strokeStyle = "rgba(0,0,0,0.25)";
  ctx.strokeRect(x - 0.5, y - 0.5, S + 1, S + 1);
  return shown;
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
