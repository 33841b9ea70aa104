// createScatterView(host, opts): a scatter view whose points are drawn with WebGL
// (regl-scatterplot, millions of points) or, where WebGL is unavailable or opts.webgl is
// false, with canvas 2D. Both share the view (data, selection, axes, lines, tooltip) and
// its pointer gestures; the renderer only draws the points and keeps the camera.

import { ScatterView } from "./view.js";
import { WebGLRenderer, webglAvailable } from "./webgl.js";
import { CanvasRenderer } from "./canvas.js";

export { webglAvailable };

/**
 * @param {HTMLElement} host
 * @param {object} opts {onHover(info|null), onSelect(pairs:number[]),
 *   maxSide, minSide, webgl (false: canvas 2D)}
 * @returns {ScatterView}
 */
export function createScatterView(host, opts = {}) {
  const renderer = opts.webgl === false || !webglAvailable() ? new CanvasRenderer() : new WebGLRenderer();
  return new ScatterView(host, opts, renderer);
}
