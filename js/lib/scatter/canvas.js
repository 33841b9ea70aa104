// The canvas-2D renderer of a scatter view (the fallback where WebGL is unavailable): one
// pre-rendered sprite per colour, one drawImage per point, so 10,000 points draw in a few
// milliseconds. It has no camera of its own: the view's gestures set its window.

import { CANVAS_POINT_RADIUS_PX, CANVAS_TRANSITION_MS, byCount } from "../sizes.js";
import { h, sizeCanvas, now } from "../util.js";
import { SortedPairs } from "./selection.js";

/** Point opacity, and that of the points outside a selection. */
const ALPHA = 0.85;
const ALPHA_UNSELECTED = 0.18;
/** Selected points are drawn this much larger (pixels of radius), opaque. */
const SELECTED_GROW_PX = 0.6;

export class CanvasRenderer {
  constructor() {
    this.kind = "canvas";
    this.ownsCamera = false;
    this.ready = true;
    this.surface = h("canvas", { class: "amumo-points", style: { touchAction: "none" } });
    this.side = 0;
    this.d = null;
    this.win = null;
    this.home = null;
    this.selected = SortedPairs.empty();
    this.sprites = new Map();
    this.onView = () => {};
  }

  start(onReady) {
    onReady(0);
  }

  fit(fitted) {
    this.home = fitted;
    this.win = fitted;
  }

  window() {
    return this.win;
  }

  /** Show the data window `win` (pan, zoom); the view hears of it through onView. */
  setWindow(win) {
    this.win = win;
    this.draw();
    this.onView();
  }

  resetView() {
    if (this.home) this.setWindow(this.home);
  }

  resize(side) {
    this.side = side;
    this.ctx = sizeCanvas(this.surface, side, side);
    this.draw();
  }

  upload(d, fitted, { transition = false, selected }) {
    const from = transition && this.d ? this.d.xy : null;
    this.d = d;
    this.selected = selected;
    cancelAnimationFrame(this.anim);
    if (!from) {
      this.draw();
      return Promise.resolve();
    }
    // Animate from the old positions (same number of points: the view asks only then).
    const to = d.xy;
    const tmp = new Float32Array(to.length);
    const start = now();
    const duration = byCount(CANVAS_TRANSITION_MS, d.n);
    return new Promise((resolve) => {
      const step = () => {
        const t = Math.min(1, (now() - start) / duration);
        const e = t < 0.5 ? 2 * t * t : 1 - Math.pow(-2 * t + 2, 2) / 2;
        for (let k = 0; k < to.length; k++) tmp[k] = from[k] + (to[k] - from[k]) * e;
        if (t < 1) {
          this.draw(tmp);
          this.anim = requestAnimationFrame(step);
        } else {
          this.draw();
          resolve();
        }
      };
      step();
    });
  }

  highlight(selected) {
    this.selected = selected;
    this.draw();
  }

  /** Number of points shown (every point of the data is drawn on each frame). */
  get drawn() {
    return this.d ? this.d.n : 0;
  }

  /** Every point at coordinates `xy` (default: the data's) in the current window. */
  draw(xy = null) {
    const ctx = this.ctx;
    const d = this.d;
    if (!ctx) return;
    const S = this.side;
    ctx.clearRect(0, 0, S, S);
    if (!d || !this.win) return;
    const pos = xy || d.xy;
    const { x0, x1, y0, y1 } = this.win;
    const sx = S / (x1 - x0), sy = S / (y1 - y0);
    const r = byCount(CANVAS_POINT_RADIUS_PX, d.n);
    const palette = d.palette && d.palette.length ? d.palette : ["#4c78a8"];
    const codes = d.codes && d.codes.length >= d.n ? d.codes : null;
    const dim = this.selected.size > 0;
    const paint = (sprites, i, m) => {
      const sp = sprites[codes ? codes[i] % sprites.length : m % sprites.length];
      const px = (pos[2 * i] - x0) * sx, py = S - (pos[2 * i + 1] - y0) * sy;
      ctx.drawImage(sp.canvas, px - sp.size / 2, py - sp.size / 2, sp.size, sp.size);
    };
    const sprites = palette.map((color) => this._sprite(color, r, dim ? ALPHA_UNSELECTED : ALPHA));
    // Interleave modalities pair by pair so no modality systematically hides another.
    for (let p = 0; p < d.N; p++) for (let m = 0; m < d.M; m++) paint(sprites, m * d.N + p, m);
    if (dim) {
      const strong = palette.map((color) => this._sprite(color, r + SELECTED_GROW_PX, 1));
      for (const p of this.selected) {
        if (p < 0 || p >= d.N) continue;
        for (let m = 0; m < d.M; m++) paint(strong, m * d.N + p, m);
      }
    }
  }

  /** A point of `radius` CSS pixels in `color`, drawn once at the device pixel ratio. */
  _sprite(color, radius, alpha) {
    const key = `${color}|${radius}|${alpha}`;
    let sprite = this.sprites.get(key);
    if (sprite) return sprite;
    const ratio = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
    const size = Math.ceil((radius + 1.5) * 2 * ratio);
    const canvas = document.createElement("canvas");
    canvas.width = size;
    canvas.height = size;
    const c = canvas.getContext("2d");
    c.globalAlpha = alpha;
    c.beginPath();
    c.arc(size / 2, size / 2, radius * ratio, 0, Math.PI * 2);
    c.fillStyle = color;
    c.fill();
    c.lineWidth = 0.8 * ratio;
    c.strokeStyle = "rgba(255,255,255,0.85)";
    c.stroke();
    sprite = { canvas, size: size / ratio };
    this.sprites.set(key, sprite);
    return sprite;
  }

  dispose() {
    cancelAnimationFrame(this.anim);
  }
}
