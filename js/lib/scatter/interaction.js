// Pointer gestures of a scatter view, whichever renderer draws its points:
//   move          hover the nearest point (tooltip, linked views)
//   drag          box selection (mode "box"), lasso (mode "lasso" or shift-drag), pan
//                 (mode "pan" or alt-drag)
//   wheel         zoom around the pointer
//   click         select the pair under the pointer (shift adds / removes it), or clear
//   double-click  reset the view (and nothing else: ClickGate)
// A renderer with its own camera (regl-scatterplot) pans and zooms itself; these handlers
// run first (capture phase) and leave pan gestures to it. For one without (canvas 2D),
// pan and zoom move the view's window here.

import { ClickGate, selectPairOnClick } from "../clicks.js";
import { now } from "../util.js";
import { PAD } from "./frame.js";

/** A drag shorter than this (pixels, |dx| + |dy|) is a click. */
const DRAG_PX = 3;
/** Lasso points closer than this (pixels) to the previous one are skipped. */
const LASSO_STEP_PX = 2;
/** Wheel zoom: the window scales by WHEEL_BASE ** deltaY. */
const WHEEL_BASE = 1.0015;

const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
const moved = (a, b) => Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) > DRAG_PX;

/** Attach the gestures to `view` (a ScatterView); returns the function that detaches them. */
export function bindPointer(view) {
  const { stage, renderer } = view;
  const surface = renderer.surface;
  const local = (event) => {
    const rect = view.overlay.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  };
  const onSurface = (event) => event.target === surface;
  let drag = null;
  let suppressClick = false;
  const clicks = new ClickGate();

  const pan = (event) => {
    if (!drag.moved) return;
    const v = drag.window;
    const dx = ((view.mouse[0] - drag.px) / view.plot) * (v.x1 - v.x0);
    const dy = ((view.mouse[1] - drag.py) / view.plot) * (v.y1 - v.y0);
    view.userView = true;
    renderer.setWindow({ x0: v.x0 - dx, x1: v.x1 - dx, y0: v.y0 + dy, y1: v.y1 + dy });
    event.preventDefault();
  };

  const onMove = (event) => {
    view.moveT0 = event.timeStamp > 0 ? Math.min(now(), event.timeStamp) : now();
    view.handlerStart = now();
    view.mouse = local(event);
    if (view.dragging && view.downAt && moved(view.mouse, view.downAt)) {
      suppressClick = true; // a drag (pan, box, lasso) that may end where it began is no click
    }
    if (drag && drag.kind === "pan") {
      if (moved(view.mouse, [drag.px, drag.py])) drag.moved = true;
      pan(event);
    } else if (drag) {
      const px = clamp(view.mouse[0], PAD.left, PAD.left + view.plot);
      const py = clamp(view.mouse[1], PAD.top, PAD.top + view.plot);
      if (moved([px, py], [drag.px, drag.py])) drag.moved = true;
      if (!drag.moved) return;
      if (drag.kind === "box") {
        view.shape = { kind: "box", x0: Math.min(drag.px, px), y0: Math.min(drag.py, py), x1: Math.max(drag.px, px), y1: Math.max(drag.py, py) };
      } else {
        const last = drag.points[drag.points.length - 1];
        if (Math.abs(px - last[0]) + Math.abs(py - last[1]) >= LASSO_STEP_PX) drag.points.push([px, py]);
        view.shape = { kind: "lasso", points: drag.points };
      }
      view.drawOverlay();
    } else if (!view.dragging && event.buttons === 0) {
      view._setHover(view.nearest(...view.mouse), ...view.mouse, view.moveT0);
    }
  };

  const onDown = (event) => {
    if (!onSurface(event) || !view.data || event.button !== 0) return;
    view.downAt = local(event);
    view.dragging = true;
    suppressClick = false;
    const panning = event.altKey || (view.mode === "pan" && !event.shiftKey);
    view._setHover(-1);
    if (panning && renderer.ownsCamera) return; // the renderer's camera pans
    // No compatibility mouse events: a renderer's camera does not pan, JupyterLab does not
    // start a cell selection.
    event.preventDefault();
    const [px, py] = view.downAt;
    const kind = panning ? "pan" : view.mode === "lasso" || event.shiftKey ? "lasso" : "box";
    drag = { kind, px, py, moved: false, points: [[px, py]], window: view.window };
    surface.setPointerCapture(event.pointerId);
  };

  const onUp = (event) => {
    view.dragging = false;
    if (view.downAt && moved(local(event), view.downAt)) suppressClick = true;
    const wasDrag = drag;
    drag = null;
    if (!wasDrag || !wasDrag.moved || wasDrag.kind === "pan") return;
    const shape = view.shape;
    view.shape = null;
    view.drawOverlay();
    if (shape) {
      const t0 = now();
      view._commitSelection(view._pairsIn(shape), shape);
      view.root.dataset.selectMs = (now() - t0).toFixed(1);
      view.root.dataset.selectKind = shape.kind;
    }
  };

  // A click selects the pair under the pointer (a renderer's own click-to-select would
  // select one point, not a pair), deferred by ClickGate: the clicks of a double-click
  // (reset view) select nothing.
  const onClick = (event) => {
    if (!onSurface(event)) return;
    event.stopPropagation();
    if (suppressClick || !view.data) return;
    clicks.click(selectPairOnClick(view, view.nearest(...local(event)), event.shiftKey));
  };

  const onDblClick = (event) => {
    if (!onSurface(event)) return;
    clicks.dblclick();
    view.resetView();
  };

  let wheelTimer = null;
  const onWheel = (event) => {
    if (renderer.ownsCamera) {
      // The renderer zooms; a camera change while the wheel turns is the user's view.
      view.wheeling = true;
      clearTimeout(wheelTimer);
      wheelTimer = setTimeout(() => (view.wheeling = false), 200);
      return;
    }
    if (!onSurface(event) || !view.data || !view.window) return;
    event.preventDefault();
    const [fx, fy] = view._toData(...local(event));
    const v = view.window;
    const k = Math.pow(WHEEL_BASE, event.deltaY);
    view.userView = true;
    renderer.setWindow({ x0: fx - (fx - v.x0) * k, x1: fx + (v.x1 - fx) * k, y0: fy - (fy - v.y0) * k, y1: fy + (v.y1 - fy) * k });
  };

  const onLeave = () => {
    if (!drag) view._setHover(-1);
  };

  // Capture phase: runs before a renderer's own handlers on its canvas / the window.
  const listeners = [
    ["pointermove", onMove, true],
    ["pointerdown", onDown, true],
    ["pointerup", onUp, true],
    ["click", onClick, true],
    ["dblclick", onDblClick, false],
    ["wheel", onWheel, { capture: true, passive: renderer.ownsCamera }],
    ["pointerleave", onLeave, false],
  ];
  for (const [type, fn, options] of listeners) stage.addEventListener(type, fn, options);
  return () => {
    for (const [type, fn, options] of listeners) stage.removeEventListener(type, fn, options);
    clearTimeout(wheelTimer);
    clicks.dispose();
  };
}
