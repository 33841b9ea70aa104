// Preview widget: follows its `hovered` / `selected` traits (link them with ipywidgets.jslink).
import { mount } from "../lib/mount.js";
import { previewPanel } from "../lib/panels/preview.js";

export default {
  render({ model, el }) {
    return mount(model, el, "amumo-preview", ({ rpc, bus, items, root, kernel }) => {
      const pp = previewPanel(model, rpc, bus, items, { title: model.get("title") || "Preview" });
      root.append(pp.root);
      // Show the current trait values once data is there.
      queueMicrotask(() => kernel.pull());
      return { panels: [pp] };
    });
  },
};
