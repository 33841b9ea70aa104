// "Which point is under the pointer": a uniform grid over the fitted data window, built
// once per set of coordinates (a counting sort, O(n)) and valid at every zoom and pan: a
// query looks only at the cells within the hit radius of the pointer.

import { HIT_GRID_CELLS } from "../sizes.js";

export class HitGrid {
  /**
   * @param {Float32Array} xy item coordinates (2 per item)
   * @param {number} n number of items
   * @param {{x0, x1, y0, y1}} box the data window the grid covers; points outside it (none
   *   unless a zoomed view was kept for new coordinates) go to the border cells
   * @param {number} size cells per side
   */
  constructor(xy, n, box, size = HIT_GRID_CELLS) {
    this.xy = xy;
    this.box = box;
    this.size = size;
    this.cellX = (box.x1 - box.x0) / size;
    this.cellY = (box.y1 - box.y0) / size;
    const cell = new Int32Array(n);
    const start = new Int32Array(size * size + 1);
    for (let i = 0; i < n; i++) {
      const c = this._row(xy[2 * i + 1]) * size + this._col(xy[2 * i]);
      cell[i] = c;
      start[c + 1]++;
    }
    for (let c = 1; c < start.length; c++) start[c] += start[c - 1];
    const fill = start.slice(0, size * size);
    const items = new Int32Array(n);
    for (let i = 0; i < n; i++) items[fill[cell[i]]++] = i;
    this.start = start;
    this.items = items;
  }

  /** Column of data x, clamped to the grid (NaN: 0; such a point is never the nearest). */
  _col(x) {
    const c = Math.floor((x - this.box.x0) / this.cellX);
    return c > 0 ? (c < this.size ? c : this.size - 1) : 0;
  }

  _row(y) {
    const r = Math.floor((y - this.box.y0) / this.cellY);
    return r > 0 ? (r < this.size ? r : this.size - 1) : 0;
  }

  /**
   * The item nearest to data point (x, y) within `radius` pixels, -1 if none. `kx`, `ky`:
   * pixels per data unit along x and y in the current view.
   */
  nearest(x, y, kx, ky, radius) {
    const rx = radius / kx, ry = radius / ky;
    const cx0 = this._col(x - rx), cx1 = this._col(x + rx);
    const cy0 = this._row(y - ry), cy1 = this._row(y + ry);
    const { xy, start, items, size } = this;
    let best = -1, bestD = radius * radius;
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const key = cy * size + cx;
        for (let k = start[key]; k < start[key + 1]; k++) {
          const i = items[k];
          const ex = (xy[2 * i] - x) * kx, ey = (xy[2 * i + 1] - y) * ky;
          const dd = ex * ex + ey * ey;
          if (dd < bestD) { bestD = dd; best = i; }
        }
      }
    }
    return best;
  }
}
