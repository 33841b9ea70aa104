// A scatter view's data: item and pair indices, the drawn sample, colours, the fitted window.
//
// Item index i = m * N + pair (modality blocks, like the heatmap). Above the kernel's
// max_points only a seeded sample of the shown pairs is drawn (`sample`): inside the view,
// pair k is the k-th DRAWN pair; shownPair(d, k) is its index among the SHOWN pairs (what
// the link bus, texts and pair ids use) and drawnPair(d, p) goes back (-1: not drawn).

/**
 * The view's copy of `data` ({xy: Float32Array(n*2), N, modalities, codes, palette, legend,
 * showLines, xLabel, yLabel, texts, pairIds, sample: Int32Array of the drawn shown pairs, or
 * empty for all}) with M, N (drawn pairs), Nshown, n = M * N and a checked `xy`. Until the
 * kernel's coordinates cover the points, nothing is drawn: n = N = 0 and `waiting` is true.
 */
export function prepareData(data) {
  const d = { ...data };
  d.M = d.modalities.length;
  d.sample = data.sample && data.sample.length ? data.sample : null;
  d.Nshown = data.N;
  d.N = d.sample ? d.sample.length : data.N;
  d.n = d.M * d.N;
  if (!(d.xy && d.xy.length >= d.n * 2)) {
    // No coordinates yet (a projection still on its way): nothing to draw. Drawing every
    // item at the origin meanwhile cost the browser 19 s at 10^7 pairs (20M zeros).
    d.waiting = d.n > 0;
    d.N = 0;
    d.n = 0;
    d.sample = null;
    d.xy = new Float32Array(0);
  }
  return d;
}

/** A cheap fingerprint of the coordinates (tests see a new projection arrive). */
export function xySum(xy) {
  let sum = 0;
  for (let i = 0; i < xy.length; i += Math.max(1, Math.floor(xy.length / 512))) sum += xy[i] * (1 + (i % 7));
  return sum;
}

/** Shown pair index of drawn pair k. */
export function shownPair(d, k) {
  return d.sample ? d.sample[k] : k;
}

/** Drawn pair index of shown pair p (-1 when p is not in the drawn sample). */
export function drawnPair(d, p) {
  if (!d.sample) return p >= 0 && p < d.N ? p : -1;
  if (!d.inverse) {
    d.inverse = new Int32Array(d.Nshown).fill(-1);
    d.sample.forEach((pair, k) => (d.inverse[pair] = k));
  }
  return p >= 0 && p < d.Nshown ? d.inverse[p] : -1;
}

/** CSS colour of item i: its colour code in the palette, or its modality's. */
export function colorOf(d, i) {
  const palette = d.palette || ["#4c78a8"];
  const codes = d.codes && d.codes.length >= d.n ? d.codes : null;
  return palette[(codes ? codes[i] : Math.floor(i / d.N)) % palette.length];
}

/** The fitted data window: the bounding box of the n points plus 5 % on each side. */
export function fitWindow(xy, n) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i], y = xy[2 * i + 1];
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  if (!(x1 > x0)) { x0 = (Number.isFinite(x0) ? x0 : 0) - 1; x1 = x0 + 2; }
  if (!(y1 > y0)) { y0 = (Number.isFinite(y0) ? y0 : 0) - 1; y1 = y0 + 2; }
  const px = (x1 - x0) * 0.05, py = (y1 - y0) * 0.05;
  return { x0: x0 - px, x1: x1 + px, y0: y0 - py, y1: y1 + py };
}
