// The WebGL renderer of a scatter view: regl-scatterplot draws the points (millions of
// them) and owns the camera (wheel zoom, drag pan) and the selection highlight; one WebGL
// context is shared by every view of the page and copied into each view's canvas.
//
// regl's point index interleaves modalities pair by pair (r = pair * M + m) so no modality
// systematically hides another; the view's item index is i = m * N + pair.

import createScatterplot, { createRenderer, createSpatialIndex } from "regl-scatterplot";
import { POINT_ALPHA, POINT_SIZE_PX, TRANSITION_MS, byCount } from "../sizes.js";
import { h, now } from "../util.js";
import { BACKGROUND } from "./frame.js";

let sharedRenderer = null;
let webglChecked = null;
let emptyIndex = null;

/** True when a WebGL context with the float textures regl-scatterplot needs can be made. */
export function webglAvailable() {
  if (webglChecked !== null) return webglChecked;
  try {
    const canvas = document.createElement("canvas");
    const gl = canvas.getContext("webgl") || canvas.getContext("experimental-webgl");
    webglChecked = !!(gl && gl.getExtension("OES_texture_float"));
  } catch {
    webglChecked = false;
  }
  return webglChecked;
}

/** The ArrayBuffer of a KDBush index of no points (made once per page). */
function emptySpatialIndex() {
  if (!emptyIndex) emptyIndex = createSpatialIndex([], false);
  return emptyIndex;
}

function renderer() {
  if (!sharedRenderer) sharedRenderer = createRenderer();
  return sharedRenderer;
}

/** A linear scale with the d3-scale methods regl-scatterplot calls. */
function linearScale(domain = [0, 1], range = [0, 1]) {
  let d = [...domain];
  let r = [...range];
  const scale = (x) => r[0] + ((x - d[0]) / (d[1] - d[0])) * (r[1] - r[0]);
  scale.domain = (v) => (v === undefined ? [...d] : ((d = [...v]), scale));
  scale.range = (v) => (v === undefined ? [...r] : ((r = [...v]), scale));
  scale.invert = (y) => d[0] + ((y - r[0]) / (r[1] - r[0])) * (d[1] - d[0]);
  scale.copy = () => linearScale(d, r);
  return scale;
}

function hexRgba(color, alpha = 1) {
  const v = parseInt(String(color).slice(1, 7), 16);
  return [((v >> 16) & 255) / 255, ((v >> 8) & 255) / 255, (v & 255) / 255, alpha];
}

function sizeGlCanvas(canvas, side) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(side * ratio);
  canvas.height = Math.round(side * ratio);
  canvas.style.width = `${side}px`;
  canvas.style.height = `${side}px`;
}

export class WebGLRenderer {
  constructor() {
    this.kind = "webgl";
    this.ownsCamera = true;
    this.surface = h("canvas", { class: "amumo-gl" });
    this.sp = null; // created after the widget's first frame (start)
    this.side = 0;
    this.xScale = linearScale([-1, 1], [0, 1]);
    this.yScale = linearScale([-1, 1], [1, 0]);
    this.onView = () => {};
  }

  get ready() {
    return this.sp !== null;
  }

  /**
   * Start WebGL after the widget's first frame: creating the context and compiling the
   * shaders takes ~0.3 s in software WebGL, and the rest of the widget (axes, heatmap,
   * panels) need not wait for it. `onReady(initMs)` then uploads the points.
   */
  start(onReady) {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => setTimeout(() => {
      if (this.disposed) return;
      const t0 = now();
      this._create();
      onReady(now() - t0);
    }, 0));
  }

  _create() {
    const side = this.side || 300;
    sizeGlCanvas(this.surface, side);
    this.sp = createScatterplot({
      renderer: renderer(),
      canvas: this.surface,
      width: side,
      height: side,
      syncEvents: true,
      xScale: this.xScale,
      yScale: this.yScale,
      backgroundColor: hexRgba(BACKGROUND),
      pointColor: ["#3b6fb6"],
      pointColorHover: "#e11d48",
      pointColorActive: "#111827",
      pointSize: 6,
      pointSizeSelected: 0,
      pointOutlineWidth: 2,
      opacityInactiveMax: 0.18,
      colorBy: "valueA",
      // Box and lasso are drawn by the view (pointer events): JupyterLab's notebook swallows
      // the shift-drag mouse events regl-scatterplot's own lasso listens to.
      actionKeyMap: {},
      mouseMode: "panZoom",
      deselectOnDblClick: false,
      deselectOnEscape: false,
      showReticle: false,
      spatialIndexUseWorker: false, // (the index given to draw() is empty, see upload)
    });
    // Hover is answered by the view's hit grid (regl-scatterplot's own hover would redraw
    // every point on each change: ~0.3 s per hover at 400k points in software WebGL; it is
    // given an empty spatial index, see upload).
    this.sp.subscribe("view", () => this.onView());
    // dom-2d-camera reserves alt-drag for rotation (no pan while alt is down); alt-drag is
    // the view's pan gesture, so move that reservation to a key the view does not use.
    const camera = this.sp.get("camera");
    if (camera && camera.config) camera.config({ mouseDownMoveModKey: "ctrl" });
  }

  /** Show the data window `fitted` (mapped to NDC [-1, 1]); resetView returns to it. */
  fit(fitted) {
    this.xScale = linearScale([fitted.x0, fitted.x1], [0, 1]);
    this.yScale = linearScale([fitted.y0, fitted.y1], [1, 0]);
  }

  /** The data window shown (regl-scatterplot updates the scales' domains as it moves). */
  window() {
    const [x0, x1] = this.xScale.domain();
    const [y0, y1] = this.yScale.domain();
    return { x0, x1, y0, y1 };
  }

  resize(side) {
    this.side = side;
    if (!this.sp) return;
    sizeGlCanvas(this.surface, side);
    this.sp.set({ width: side, height: side });
  }

  /**
   * Send points to the GPU: NDC coordinates of the fitted window, interleaved by pair, with
   * colour codes. Resolves once they are drawn (true), or with false when a newer upload
   * replaced this one before it started.
   *
   * regl-scatterplot refuses a draw while the previous one runs (it rejects with "Ignoring
   * draw call as the previous draw call has not yet finished"), and a filter or projection
   * change in the kernel often sends new points during a draw (or its 300 ms transition).
   * So uploads queue here: one draw at a time, and of the uploads that arrive meanwhile only
   * the latest is drawn next (the ones it replaces were never shown; coalesced, not dropped).
   */
  upload(d, fitted, { transition = false, resetCamera = true, selected }) {
    this.selected = selected;
    return new Promise((resolve, reject) => {
      const waiting = this.queued;
      // A camera reset asked for by a replaced upload still happens (its data are new).
      if (waiting) waiting.resolve(false);
      this.queued = { d, fitted, transition, resetCamera: resetCamera || (waiting ? waiting.resetCamera : false), resolve, reject };
      this._next();
    });
  }

  /** Draw the queued upload unless a draw runs (it calls this again when it ends). */
  _next() {
    if (this.drawing || !this.queued || !this.sp) return;
    const job = this.queued;
    this.queued = null;
    this.drawing = this._draw(job)
      .then(() => job.resolve(true), job.reject)
      .finally(() => {
        this.drawing = null;
        if (this.disposed) return;
        if (!this.queued) this.highlight(this.selected); // the latest selection on the latest points
        this._next();
      });
  }

  /** One regl-scatterplot draw (the caller makes sure none runs). */
  _draw({ d, fitted, transition, resetCamera }) {
    const sp = this.sp;
    const { n, N, M } = d;
    const sx = 2 / (fitted.x1 - fitted.x0), sy = 2 / (fitted.y1 - fitted.y0);
    const x = new Float32Array(n), y = new Float32Array(n), z = new Float32Array(n);
    const codes = d.codes && d.codes.length >= n ? d.codes : null;
    const palette = d.palette && d.palette.length ? d.palette : ["#4c78a8"];
    const P = palette.length;
    for (let p = 0, r = 0; p < N; p++) {
      for (let m = 0; m < M; m++, r++) {
        const i = m * N + p;
        x[r] = (d.xy[2 * i] - fitted.x0) * sx - 1;
        y[r] = (d.xy[2 * i + 1] - fitted.y0) * sy - 1;
        z[r] = codes ? codes[i] % P : m % P;
      }
    }
    const alpha = byCount(POINT_ALPHA, n);
    sp.set({
      pointColor: palette.map((c) => hexRgba(c, alpha)),
      pointColorActive: palette.map((c) => hexRgba(c, 1)),
      pointColorHover: palette.map((c) => hexRgba(c, 1)),
      pointSize: byCount(POINT_SIZE_PX, n),
    });
    if (resetCamera) {
      // regl-scatterplot reads a scale's domain when the scale is set: new scales, fitted view.
      sp.reset({ preventEvent: true });
      sp.set({ xScale: this.xScale, yScale: this.yScale });
    }
    this.d = d;
    // An animation needs the same number of points as those drawn now (a replaced upload
    // may have had another number than the one the view compared with).
    const animate = transition && this.drawnPoints === n;
    // regl-scatterplot's own KDBush index serves only its hover and lasso, which the view
    // replaces (hit grid, rasterised lasso): an empty index saves building one over every
    // point (~1-2 s at 2M points) and its memory.
    return emptySpatialIndex()
      .then((spatialIndex) => sp.draw({ x, y, z }, {
        transition: animate,
        transitionDuration: TRANSITION_MS,
        preventFilterReset: !resetCamera,
        zDataType: "categorical",
        spatialIndex,
      }))
      .then(() => {
        this.drawnPoints = sp.get("points").length;
      });
  }

  /** Number of points regl-scatterplot holds (what the last finished draw showed). */
  get drawn() {
    return this.drawnPoints || 0;
  }

  /** Highlight the selected pairs' points (the others fade); after the running draw if one runs. */
  highlight(selected) {
    this.selected = selected;
    if (this.drawing || !this.sp || !this.d) return; // applied when the draw ends
    const points = this._points(selected);
    if (points.length) this.sp.select(points, { preventEvent: true });
    else this.sp.deselect({ preventEvent: true });
  }

  /** regl point indices of the pairs in `selected`. */
  _points(selected) {
    const d = this.d;
    const out = [];
    if (!d) return out;
    for (const p of selected) {
      if (p < 0 || p >= d.N) continue;
      for (let m = 0; m < d.M; m++) out.push(p * d.M + m);
    }
    return out;
  }

  resetView() {
    if (this.sp) this.sp.reset();
  }

  dispose() {
    this.disposed = true;
    if (this.sp) this.sp.destroy();
    this.sp = null;
  }
}
