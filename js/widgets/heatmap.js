// Heatmap widget: similarity matrix with a preview-free tooltip.
import { mount } from "../lib/mount.js";
import { heatmapPanel } from "../lib/panels/heatmap.js";

export default {
  render({ model, el }) {
    return mount(model, el, "amumo-heatmap", ({ rpc, bus, items, root }) => {
      const hp = heatmapPanel(model, rpc, bus, items, { title: model.get("title") || "Similarity" });
      root.append(hp.root);
      return { panels: [hp] };
    });
  },
};
