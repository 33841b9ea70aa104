// How amumo's own views join the bus (link/bus.js): each translates the events it cares
// about into its own calls. A new view joins the same way: `bus.subscribe(view, {...})`
// with handlers for the events it needs (see docs in bus.js); nothing else changes.

/** Preview entries of a hovered heatmap cell: the row's item, then the column's. */
export function cellEntries(row, col) {
  const entries = [{ pair: row.pair, m: row.m, role: "row" }];
  if (col.item !== row.item) entries.push({ pair: col.pair, m: col.m, role: "column" });
  return entries;
}

/** Preview entries of a hovered item (pair, m): that item, then its partners. */
export function pairEntries(items, pair, m) {
  const entries = [{ pair, m, role: "point" }];
  items.modalities.forEach((_, k) => {
    if (k !== m) entries.push({ pair, m: k, role: "pair" });
  });
  return entries;
}

/** A HeatmapView: crosshair on the hovered cell, the hovered pair's rows and columns marked. */
export function joinHeatmap(bus, view, items) {
  return bus.subscribe(view, {
    "cell-hover": ({ row, col }) => view.setLinked({ cell: [row.pos, col.pos] }),
    "pair-hover": ({ pair }) => view.setLinked({ items: items.itemsOfPair(pair) }),
    "hover-clear": () => view.setLinked(null),
    selection: ({ pairs }) => view.setSelection(pairs),
  });
}

/** A scatter view: the hovered items and their pair line marked; a typed query's marker. */
export function joinScatter(bus, view, items) {
  return bus.subscribe(view, {
    "cell-hover": ({ row, col }) => view.setLinked({ items: [row.item, col.item] }),
    "pair-hover": ({ pair, m }) => view.setLinked({ items: [m * items.N + pair] }),
    "hover-clear": () => view.setLinked(null),
    highlight: (e) => view.setLinked({ items: e.items }),
    selection: ({ pairs }) => view.setSelection(pairs),
    query: ({ query }) => view.setQuery(query),
  });
}

/** A PreviewView: cards of the hovered items, or of the selection when nothing is hovered. */
export function joinPreview(bus, view, items) {
  return bus.subscribe(view, {
    "cell-hover": ({ row, col }) => view.show(cellEntries(row, col)),
    "pair-hover": ({ pair, m }) => view.show(pairEntries(items, pair, m)),
    "hover-clear": () => view.show([]),
    selection: ({ pairs }) => view.setSelection(pairs),
  });
}
