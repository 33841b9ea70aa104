// Every size ladder and size limit of the front end's views, in one place.
//
// A ladder picks a value by the number of points n: rungs [[above, value], ...] from the
// largest `above` down; the first rung with n > above gives the value (the last rung has
// above = 0 and serves every smaller n). Fewer, larger points for small sets; many small,
// light points for millions, so dense regions still show their density.

/** The value of `ladder` for n points. */
export function byCount(ladder, n) {
  for (const [above, value] of ladder) if (n > above) return value;
  return ladder[ladder.length - 1][1];
}

// ------------------------------------------------------------------ scatter, WebGL
/** Point diameter in CSS pixels (regl-scatterplot's pointSize). */
export const POINT_SIZE_PX = [[1_000_000, 2], [200_000, 2.5], [40_000, 3.5], [6_000, 4.5], [2_000, 5.5], [400, 7], [0, 8.5]];
/** Point opacity (the selected and hovered points are opaque). */
export const POINT_ALPHA = [[1_000_000, 0.3], [200_000, 0.4], [20_000, 0.6], [0, 0.85]];
/** Points up to which a changed projection animates from the old positions. */
export const TRANSITION_LIMIT = 200_000;
/** Duration of that animation (ms). */
export const TRANSITION_MS = 300;
/** Selections of more points are shown as their region (box / lasso outline) instead of
 * point by point: regl-scatterplot's per-point highlight costs ~1.5 µs a point. */
export const HIGHLIGHT_LIMIT = 100_000;

// ------------------------------------------------------------------ scatter, canvas 2D
/** Point radius in CSS pixels of the canvas-2D fallback (one sprite per point). */
export const CANVAS_POINT_RADIUS_PX = [[6_000, 2.2], [2_000, 2.8], [400, 3.4], [0, 4.2]];
/** Duration of the canvas-2D fallback's animation to new positions (ms). */
export const CANVAS_TRANSITION_MS = [[6_000, 300], [0, 450]];

// ------------------------------------------------------------------ scatter, both
/** Pairs up to which every pair line is drawn; above, only the hovered and selected ones. */
export const LINE_LIMIT = 20_000;
/** Hover picks the nearest point within this many pixels of the pointer. */
export const HIT_RADIUS_PX = 8;
/** Cells per side of the hover grid over the fitted data window. */
export const HIT_GRID_CELLS = 256;

/** Opacity of the pair lines when all are drawn: fainter for more pairs, so thousands of
 * them read as a band, not a wall. */
export function lineAlpha(nPairs) {
  return Math.min(0.2, Math.max(0.03, 3.5 / Math.sqrt(nPairs)));
}

/** Opacity of the selected pairs' lines (many selected pairs read as a band, too). */
export function selectedLineAlpha(nSelected) {
  return Math.min(0.5, Math.max(0.06, 3 / Math.sqrt(nSelected)));
}
