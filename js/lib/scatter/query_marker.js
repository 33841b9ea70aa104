// A typed query on the scatter (the bus's "query" event, see link/bus.js): a star where the
// query lands in the projection, in its modality's colour, labelled with what was asked; a
// dashed arrow to where its nearest items of each OTHER modality lie (the mean of their
// points: with the modality gap open, a caption's nearest images sit in the far cone), and
// rings around those nearest items. Drawn on the overlay canvas, in the plot square.

const FONT = "600 11px system-ui, -apple-system, 'Segoe UI', sans-serif";
const LABEL_FONT = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";

/**
 * Draw `query` {point: [x, y] | null, label, color, regions: [{point, label, color}],
 * rings: [{item, color}]} with `toStage(x, y) -> [px, py]` and `itemStage(i) -> [px, py]`.
 * `box` = {left, top, side} keeps the labels inside the plot. Returns what was drawn
 * ({star: [px, py], arrows: n, rings: n}) for the tests.
 */
export function drawQuery(ctx, query, toStage, itemStage, box) {
  const drawn = { star: null, offView: false, arrows: 0, rings: 0 };
  if (!query) return drawn;
  ctx.save();
  for (const ring of query.rings || []) {
    const [x, y] = itemStage(ring.item);
    ctx.beginPath();
    ctx.arc(x, y, 5.5, 0, 2 * Math.PI);
    ctx.lineWidth = 3.2;
    ctx.strokeStyle = "rgba(255,255,255,0.85)";
    ctx.stroke();
    ctx.lineWidth = 1.6;
    ctx.strokeStyle = ring.color || "#111827";
    ctx.stroke();
    drawn.rings += 1;
  }
  if (!query.point) {
    ctx.restore();
    return drawn;
  }
  const taken = []; // label rectangles drawn so far
  let [sx, sy] = toStage(query.point[0], query.point[1]);
  // Off the view (zoomed in, or the query lies past every point, e.g. a shifted text far
  // from the texts): a hollow star at the border, pointing where it is.
  let off = null;
  if (box) {
    const m = 12;
    const cx = Math.min(Math.max(sx, box.left + m), box.left + box.side - m);
    const cy = Math.min(Math.max(sy, box.top + m), box.top + box.side - m);
    if (cx !== sx || cy !== sy) {
      off = [sx - cx, sy - cy];
      sx = cx;
      sy = cy;
    }
  }
  for (const region of query.regions || []) {
    const [rx, ry] = toStage(region.point[0], region.point[1]);
    const dx = rx - sx, dy = ry - sy;
    const length = Math.hypot(dx, dy);
    if (length < 18) continue; // the neighbours are around the star: nothing to point at
    const ux = dx / length, uy = dy / length;
    const x0 = sx + ux * 12, y0 = sy + uy * 12; // from the star's edge
    const x1 = rx - ux * 3, y1 = ry - uy * 3;
    ctx.setLineDash([6, 4]);
    ctx.lineWidth = 3.4;
    ctx.strokeStyle = "rgba(255,255,255,0.8)";
    line(ctx, x0, y0, x1, y1);
    ctx.lineWidth = 1.7;
    ctx.strokeStyle = region.color || "#374151";
    line(ctx, x0, y0, x1, y1);
    ctx.setLineDash([]);
    // arrow head
    const head = 9, wing = 4.5;
    ctx.beginPath();
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - ux * head - uy * wing, y1 - uy * head + ux * wing);
    ctx.lineTo(x1 - ux * head + uy * wing, y1 - uy * head - ux * wing);
    ctx.closePath();
    ctx.fillStyle = region.color || "#374151";
    ctx.fill();
    ctx.lineWidth = 1;
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.stroke();
    if (region.label) {
      // Past the arrow's tip, on the far side from the star.
      taken.push(pill(ctx, region.label, [[x1 + ux * 8, y1 + uy * 8, ux, uy]], box, LABEL_FONT, region.color, taken));
    }
    drawn.arrows += 1;
  }
  star(ctx, sx, sy, query.color || "#111827", !!off);
  if (off) {
    // a chevron on the star's outer side, toward where the query lies
    const length = Math.hypot(off[0], off[1]);
    const ux = off[0] / length, uy = off[1] / length;
    const tx = sx + ux * 15, ty = sy + uy * 15;
    ctx.beginPath();
    ctx.moveTo(tx + ux * 6, ty + uy * 6);
    ctx.lineTo(tx - uy * 5, ty + ux * 5);
    ctx.lineTo(tx + uy * 5, ty - ux * 5);
    ctx.closePath();
    ctx.fillStyle = "#111827";
    ctx.fill();
  }
  if (query.label) {
    const text = off ? `${query.label} (outside the view)` : query.label;
    // Above right of the star, else above left, below right, below left: the first place
    // inside the plot that no arrow label covers.
    pill(ctx, text, [[sx + 12, sy - 12, 1, -1], [sx - 12, sy - 12, -1, -1], [sx + 12, sy + 12, 1, 1], [sx - 12, sy + 12, -1, 1]], box, FONT, "#111827", taken);
  }
  drawn.star = [sx, sy];
  drawn.offView = !!off;
  ctx.restore();
  return drawn;
}

function line(ctx, x0, y0, x1, y1) {
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
}

/** A five-pointed star with a white halo and a dark rim (hollow: the query is off the view). */
function star(ctx, x, y, color, hollow = false) {
  const outer = 10, inner = 4.4;
  ctx.beginPath();
  for (let k = 0; k < 10; k++) {
    const r = k % 2 ? inner : outer;
    const a = -Math.PI / 2 + (k * Math.PI) / 5;
    const px = x + r * Math.cos(a), py = y + r * Math.sin(a);
    if (k === 0) ctx.moveTo(px, py);
    else ctx.lineTo(px, py);
  }
  ctx.closePath();
  ctx.lineJoin = "round";
  ctx.lineWidth = 4;
  ctx.strokeStyle = "rgba(255,255,255,0.95)";
  ctx.stroke();
  ctx.fillStyle = hollow ? "rgba(255,255,255,0.9)" : color;
  ctx.fill();
  ctx.lineWidth = hollow ? 2 : 1.4;
  ctx.strokeStyle = hollow ? color : "#111827";
  ctx.stroke();
}

/**
 * Text on a white rounded label at the first of `anchors` [[x, y, ux, uy], ...] whose label
 * stays inside `box` and clear of the rectangles in `taken` (the label grows from its anchor
 * in the direction (ux, uy)); the last anchor, moved inside the box, when none is clear.
 * Returns the label's rectangle {x, y, w, h}.
 */
function pill(ctx, text, anchors, box, font, color, taken = []) {
  ctx.font = font;
  const w = Math.ceil(ctx.measureText(text).width) + 10, hgt = 17;
  const place = ([x, y, ux, uy]) => {
    let left = ux >= 0 ? x : x - w;
    let top = uy >= 0 ? y : y - hgt;
    if (box) {
      left = Math.min(Math.max(left, box.left + 2), box.left + box.side - w - 2);
      top = Math.min(Math.max(top, box.top + 2), box.top + box.side - hgt - 2);
    }
    return { x: left, y: top, w, h: hgt };
  };
  const clear = (r) => !taken.some((t) => r.x < t.x + t.w && t.x < r.x + r.w && r.y < t.y + t.h && t.y < r.y + r.h);
  const rects = anchors.map(place);
  const rect = rects.find(clear) || rects[0];
  ctx.beginPath();
  ctx.roundRect ? ctx.roundRect(rect.x, rect.y, w, hgt, 5) : ctx.rect(rect.x, rect.y, w, hgt);
  ctx.fillStyle = "rgba(255,255,255,0.92)";
  ctx.fill();
  ctx.lineWidth = 1;
  ctx.strokeStyle = color || "#374151";
  ctx.stroke();
  ctx.fillStyle = "#111827";
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  ctx.fillText(text, rect.x + 5, rect.y + hgt / 2 + 0.5);
  return rect;
}
