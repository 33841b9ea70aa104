// Selected pairs and the box / lasso test that makes them.

/** Selected pairs: a sorted Int32Array with Set-like size / has / iteration. */
export class SortedPairs {
  constructor(list) {
    this.list = list;
    this.size = list.length;
  }

  static empty() {
    return new SortedPairs(new Int32Array(0));
  }

  /** From a SortedPairs, a Set or an array of pair indices (sorted, duplicates dropped). */
  static from(pairs) {
    if (pairs instanceof SortedPairs) return pairs;
    const list = Int32Array.from(pairs).sort();
    let k = 0;
    for (let i = 0; i < list.length; i++) if (i === 0 || list[i] !== list[i - 1]) list[k++] = list[i];
    return new SortedPairs(list.subarray(0, k));
  }

  has(p) {
    let lo = 0, hi = this.list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.list[mid] === p) return true;
      if (this.list[mid] < p) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  [Symbol.iterator]() {
    return this.list[Symbol.iterator]();
  }
}

/**
 * Pairs with an item inside `shape` (a box {x0, y0, x1, y1} or a lasso {points: [[x, y]...]},
 * in stage pixels). `plot` = {left, top, side, window}: the plot square in the stage and the
 * data window it shows. The shape goes to data coordinates once, then one pass over the
 * points with a bounding-box test before the lasso test. A lasso is rasterised once at
 * screen resolution: one lookup per point, whatever the number of vertices (an exact
 * even-odd test costs a pass over every edge per point).
 */
export function pairsInShape(d, shape, { left, top, side, window: v }) {
  const toData = ([px, py]) => [v.x0 + ((px - left) / side) * (v.x1 - v.x0), v.y0 + ((top + side - py) / side) * (v.y1 - v.y0)];
  const isBox = shape.kind === "box";
  const poly = isBox
    ? [[shape.x0, shape.y0], [shape.x1, shape.y0], [shape.x1, shape.y1], [shape.x0, shape.y1]]
    : shape.points;
  const corners = poly.map(toData);
  let ax = Infinity, bx = -Infinity, ay = Infinity, by = -Infinity;
  for (const [x, y] of corners) {
    if (x < ax) ax = x;
    if (x > bx) bx = x;
    if (y < ay) ay = y;
    if (y > by) by = y;
  }
  const mask = isBox ? null : polygonMask(shape.points, left, top, side);
  const kx = side / (v.x1 - v.x0), ky = side / (v.y1 - v.y0);
  const hit = new Uint8Array(d.N);
  const xy = d.xy;
  let count = 0;
  for (let i = 0; i < d.n; i++) {
    const x = xy[2 * i], y = xy[2 * i + 1];
    if (x < ax || x > bx || y < ay || y > by) continue;
    let inside = isBox;
    if (!isBox) {
      const col = Math.floor((x - v.x0) * kx), row = Math.floor(side - (y - v.y0) * ky);
      inside = mask
        ? col >= 0 && col < side && row >= 0 && row < side && mask[row * side + col] === 1
        : insidePolygon(x, y, corners);
    }
    if (inside) {
      const p = i % d.N;
      if (!hit[p]) { hit[p] = 1; count++; }
    }
  }
  const list = new Int32Array(count);
  for (let p = 0, k = 0; p < d.N; p++) if (hit[p]) list[k++] = p;
  return new SortedPairs(list);
}

/**
 * The polygon (stage pixels, offset by left/top) filled into a size x size mask (1 inside),
 * or null where no 2-D canvas is available (the caller then tests every edge).
 */
function polygonMask(points, left, top, size) {
  let canvas;
  try {
    canvas = typeof OffscreenCanvas !== "undefined" ? new OffscreenCanvas(size, size) : document.createElement("canvas");
    canvas.width = size;
    canvas.height = size;
  } catch {
    return null;
  }
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) return null;
  ctx.fillStyle = "#000";
  ctx.beginPath();
  points.forEach(([x, y], k) => (k ? ctx.lineTo(x - left, y - top) : ctx.moveTo(x - left, y - top)));
  ctx.closePath();
  ctx.fill("evenodd");
  const rgba = ctx.getImageData(0, 0, size, size).data;
  const mask = new Uint8Array(size * size);
  for (let k = 0; k < mask.length; k++) mask[k] = rgba[4 * k + 3] > 127 ? 1 : 0;
  return mask;
}

/** Even-odd test of (x, y) against a polygon [[x, y], ...]. */
export function insidePolygon(x, y, poly) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i], [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
