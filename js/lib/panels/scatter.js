// Scatter panel: the projection view with its toolbar bound to the widget's traits.

import { createScatterView } from "../scatter/index.js";
import { scatterData } from "../decode.js";
import { requestViewport } from "../requests.js";
import { h, bind, setOptions, watch } from "../util.js";
import { joinScatter } from "../link/views.js";
import { panel, labelled, iconButton } from "./frame.js";
import { portraitMaker } from "./heatmap.js";

/** Scatter panel: toolbar (projection, components, colour, lines, selection mode) + view. */
export function scatterPanel(model, rpc, bus, items, opts = {}) {
  const unbind = [];
  const projection = h("select", { class: "amumo-projection" });
  setOptions(projection, (model.get("projections") || ["pca"]).map((m) => [m, m === "gap" ? "gap axis" : m.toUpperCase().replace("TSNE", "t-SNE")]));
  const xc = h("select", { class: "amumo-x-component" });
  const yc = h("select", { class: "amumo-y-component" });
  const colorBy = h("select", { class: "amumo-color-by" });
  const lines = h("input", { type: "checkbox", class: "amumo-lines-toggle" });
  const syncOptions = () => {
    const count = model.get("n_components") || 2;
    const prefix = (model.get("axis_prefix") || "PC").trim();
    const name = (i) => (prefix !== "gap" ? `${prefix} ${i + 1}` : i === 0 ? "gap axis" : `PC ${i} ⊥ Δ`);
    const opt = Array.from({ length: count }, (_, i) => [String(i), name(i)]);
    setOptions(xc, opt, String(model.get("x_component")));
    setOptions(yc, opt, String(model.get("y_component")));
    setOptions(colorBy, (model.get("color_options") || ["modality"]).map((c) => [c, c]), model.get("color_by"));
  };
  syncOptions();
  unbind.push(bind(model, "projection", projection));
  unbind.push(bind(model, "x_component", xc, { parse: Number, format: String }));
  unbind.push(bind(model, "y_component", yc, { parse: Number, format: String }));
  unbind.push(bind(model, "color_by", colorBy));
  unbind.push(bind(model, "show_lines", lines, { kind: "checked" }));
  const modes = ["box", "lasso", "pan"].map((mode) =>
    iconButton({ box: "▭", lasso: "◌", pan: "✥" }[mode], { box: "Box select (drag)", lasso: "Lasso select (or shift-drag)", pan: "Pan (or alt-drag)" }[mode], () => setMode(mode), `amumo-mode amumo-mode-${mode}`),
  );
  const setMode = (mode) => {
    view.setMode(mode);
    modes.forEach((b) => b.classList.toggle("amumo-active", b.classList.contains(`amumo-mode-${mode}`)));
  };
  const p = panel(
    opts.title || "Projection",
    "amumo-scatter-panel",
    [
      ...modes,
      iconButton("⤢", "Reset view (double-click)", () => view.resetView()),
      iconButton("✕", "Clear selection", () => bus.select([], undefined), "amumo-clear-selection"),
    ],
    [
      projection,
      xc,
      yc,
      labelled("colour", colorBy),
      h("label", { class: "amumo-switch", title: "Draw a line between the items of each pair" }, lines, h("span", { text: "pairs" })),
    ],
  );
  const view = createScatterView(p.body, {
    onHover: (info) => (info ? bus.pairHover(info, view) : bus.clearHover(view)),
    onSelect: (pairs) => bus.select(pairs, view),
    onViewport: opts.viewport ? requestViewport(rpc) : null,
    maxSide: opts.maxSide,
    portrait: portraitMaker(model, rpc, items, 22),
  });
  setMode("box");
  const leave = joinScatter(bus, view, items);
  // A UMAP / t-SNE still computing can be stopped: the kernel goes back to the projection shown.
  const cancel = {
    label: "cancel",
    title: "Stop this projection and keep the one shown before",
    onClick: () => rpc.call({ type: "cancel_projection" }),
  };
  const syncBusy = () => {
    const status = model.get("projection_status") || "";
    view.setBusy(status || (model.get("busy") || {}).scatter || "", status.startsWith("computing") ? cancel : null);
  };
  syncBusy();
  unbind.push(watch(model, ["busy", "projection_status"], syncBusy));
  unbind.push(watch(model, ["n_components", "color_options", "axis_prefix"], syncOptions));
  const refresh = () => view.setData(scatterData(model, items));
  return {
    root: p.root,
    view,
    refresh,
    traits: ["xy", "scatter_pairs", "colors", "palette", "legend", "show_lines", "axis_labels"],
    dispose() {
      unbind.forEach((f) => f());
      leave();
      view.dispose();
    },
  };
}
