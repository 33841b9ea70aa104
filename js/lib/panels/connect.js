// Trait changes -> panel refreshes, coalesced per kernel message.

const ITEM_TRAITS = ["modalities", "n_pairs", "pair_ids", "texts", "text_field", "data_version"];

/**
 * Refresh panels when their traits change. All changes of one kernel message arrive as a
 * burst of change events; they are coalesced into one refresh (a microtask later), with the
 * pair-level `items` refreshed first so views never see new arrays with old sizes.
 * After every flush the bus hears a "data" event ({itemsChanged}). Returns an unsubscribe function.
 */
export function connect(model, items, panels, bus) {
  let dirtyItems = false;
  const dirty = new Set();
  let queued = false;
  const flush = () => {
    queued = false;
    const itemsChanged = dirtyItems;
    if (itemsChanged) items.refresh();
    const all = itemsChanged ? new Set(panels) : new Set(dirty);
    dirtyItems = false;
    dirty.clear();
    for (const p of all) p.refresh();
    bus.emit("data", { itemsChanged });
  };
  const queue = () => {
    if (!queued) {
      queued = true;
      queueMicrotask(flush);
    }
  };
  const handlers = [];
  for (const name of ITEM_TRAITS) {
    const fn = () => { dirtyItems = true; queue(); };
    model.on(`change:${name}`, fn);
    handlers.push([name, fn]);
  }
  for (const p of panels) {
    for (const name of p.traits || []) {
      const fn = () => { dirty.add(p); queue(); };
      model.on(`change:${name}`, fn);
      handlers.push([name, fn]);
    }
  }
  return () => handlers.forEach(([name, fn]) => model.off(`change:${name}`, fn));
}
