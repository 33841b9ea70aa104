// GapMatrix widget: the M x M gap table (amumo.gap_matrix), shaded, with a metric picker.
import { gapMatrixTable } from "../lib/gap_pair.js";
import { h, setOptions, bind } from "../lib/util.js";

export default {
  render({ model, el }) {
    const root = h("div", { class: "amumo-root amumo-gap-matrix-widget" });
    const metric = h("select", { class: "amumo-gap-metric", "aria-label": "metric" });
    setOptions(metric, (model.get("metrics") || ["gap_distance"]).map((m) => [m, m === "rmg" ? "relative gap (RMG)" : "gap distance"]));
    const unbind = bind(model, "metric", metric);
    const body = h("div", { class: "amumo-panel-body" });
    root.append(h("section", { class: "amumo-panel" },
      h("div", { class: "amumo-panel-head" }, h("span", { class: "amumo-panel-title", text: model.get("title") || "Modality gaps" }), metric),
      body));
    el.append(root);
    const refresh = () => {
      const matrix = { modalities: model.get("modalities") || [], before: model.get("values") || [] };
      body.replaceChildren(gapMatrixTable(matrix, {
        pair: model.get("picked"),
        digits: 3,
        onPick: (pair) => {
          model.set("picked", pair);
          model.save_changes();
        },
      }));
      root.dataset.rendered = "true";
    };
    refresh();
    const events = ["values", "modalities", "picked"];
    events.forEach((e) => model.on(`change:${e}`, refresh));
    return () => {
      unbind();
      events.forEach((e) => model.off(`change:${e}`, refresh));
    };
  },
};
