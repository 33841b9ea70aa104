// Single clicks that do not fire as part of a double-click.
//
// Double-click is the zoom-reset gesture, and a double-click starts with two clicks: a view
// that selects on click would select a pair, then toggle or wipe the selection, before the
// reset. ClickGate runs a click's action only when no second click follows within `delay`
// ms. When the second click comes later than that but the browser still reports a dblclick
// (the system double-click interval is often 400-500 ms), the action of the first click has
// run: its undo function (returned by the action) is called, so a double-click changes the
// zoom only.

export const DOUBLE_CLICK_MS = 250;
const UNDO_WINDOW_MS = 1000;

export class ClickGate {
  constructor(delay = DOUBLE_CLICK_MS) {
    this.delay = delay;
    this.timer = null;
    this.last = null; // {undo, at}: the action that ran most recently
  }

  /** A click: run `action` (which may return an undo function) unless a double-click follows. */
  click(action) {
    if (this.timer !== null) {
      // Second click within `delay`: a double-click; neither click acts.
      clearTimeout(this.timer);
      this.timer = null;
      this.last = null;
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      const undo = action();
      this.last = { undo: typeof undo === "function" ? undo : null, at: performance.now() };
    }, this.delay);
  }

  /** The dblclick event: drop a pending click; undo the first click of a slow double-click. */
  dblclick() {
    const pending = this.timer !== null;
    if (pending) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const last = this.last;
    this.last = null;
    if (pending && last && last.undo && performance.now() - last.at < UNDO_WINDOW_MS) last.undo();
  }

  dispose() {
    clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * The action a click on a scatter view hands to ClickGate: select the pair of `item`
 * (shift adds or removes it), or clear the selection when the click hit no point (-1).
 * The action returns its undo, or null when it changed nothing. `view` has `data` (with
 * N, checked unchanged when the action runs), `selected` (a Set of pairs) and
 * `_commitSelection(pairs)`.
 */
export function selectPairOnClick(view, item, shift) {
  const data = view.data;
  return () => {
    if (view.data !== data) return null;
    const before = new Set(view.selected);
    if (item >= 0) {
      const p = item % data.N;
      const next = shift ? new Set(view.selected) : new Set();
      if (next.has(p)) next.delete(p);
      else next.add(p);
      view._commitSelection(next);
    } else if (view.selected.size) {
      view._commitSelection(new Set());
    } else {
      return null;
    }
    return () => view.data === data && view._commitSelection(before);
  };
}
