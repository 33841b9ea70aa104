// The kernel's end of the linking: one more subscriber of the bus. Hover and selection made
// in the browser reach Python as traits (`hovered` + `hovered_cell` throttled, `selected`
// debounced, pair ids not view indices); `hovered` / `selected` set in Python (or by another
// widget through ipywidgets.jslink) are published on the bus with source FROM_KERNEL, and
// never sent back.

import { FROM_KERNEL } from "./bus.js";
import { throttle, debounce } from "../util.js";

/** At most one `hovered` write per this many ms (the last hover always arrives). */
export const HOVER_SEND_MS = 60;
/** `selected` is written once the selection has not changed for this many ms. */
export const SELECTION_SEND_MS = 200;

/**
 * Link the bus to the model's `hovered`, `hovered_cell` and `selected` traits.
 * Returns {pull(), dispose()}: pull() publishes the traits' current values (a view that
 * opens on a widget whose traits are already set).
 */
export function linkKernel(model, bus, items) {
  let localHover = false;
  let localSelect = false;
  let lastHover = -1;
  let lastSelected = "";
  const sendHover = throttle((pairId, cell) => {
    lastHover = pairId;
    localHover = true;
    model.set("hovered", pairId);
    model.set("hovered_cell", cell);
    model.save_changes();
    localHover = false;
  }, HOVER_SEND_MS);
  const sendSelection = debounce((ids) => {
    lastSelected = ids.join(",");
    localSelect = true;
    model.set("selected", ids);
    model.save_changes();
    localSelect = false;
  }, SELECTION_SEND_MS);

  const fromBrowser = (event) => event.source !== FROM_KERNEL;
  const offs = [
    bus.on("cell-hover", (e) => {
      if (!fromBrowser(e)) return;
      const { row, col } = e;
      const cell = { row: [row.modality, items.id(row.pair)], col: [col.modality, items.id(col.pair)] };
      sendHover(items.id(row.pair), cell);
    }, { after: true }),
    bus.on("pair-hover", (e) => fromBrowser(e) && sendHover(items.id(e.pair), {}), { after: true }),
    bus.on("hover-clear", (e) => fromBrowser(e) && sendHover(-1, {}), { after: true }),
    bus.on("selection", (e) => {
      if (fromBrowser(e)) sendSelection(items.pairIds ? e.pairs.map((p) => items.id(p)) : e.pairs);
    }, { after: true }),
  ];

  const onHoveredTrait = () => {
    // Ignore our own value coming back (ipywidgets echoes updates to every view).
    if (localHover || model.get("hovered") === lastHover) return;
    lastHover = model.get("hovered");
    const pair = items.view(model.get("hovered"));
    if (pair < 0) bus.clearHover(FROM_KERNEL);
    else bus.pairHover({ pair, m: 0 }, FROM_KERNEL);
  };
  const onSelectedTrait = () => {
    const ids = model.get("selected") || [];
    if (localSelect || ids.join(",") === lastSelected) return;
    lastSelected = ids.join(",");
    const pairs = ids.map((id) => items.view(id)).filter((p) => p >= 0);
    bus.select(pairs, FROM_KERNEL);
  };
  model.on("change:hovered", onHoveredTrait);
  model.on("change:selected", onSelectedTrait);
  return {
    pull() {
      onHoveredTrait();
      onSelectedTrait();
    },
    dispose() {
      offs.forEach((off) => off());
      model.off("change:hovered", onHoveredTrait);
      model.off("change:selected", onSelectedTrait);
    },
  };
}
