// Scatter widget: projection with pair lines, hover and box/lasso selection.
import { mount } from "../lib/mount.js";
import { scatterPanel } from "../lib/panels/scatter.js";

export default {
  render({ model, el }) {
    return mount(model, el, "amumo-scatter", ({ rpc, bus, items, root }) => {
      const sp = scatterPanel(model, rpc, bus, items, { title: model.get("title") || "Projection" });
      root.append(sp.root);
      return { panels: [sp] };
    });
  },
};
