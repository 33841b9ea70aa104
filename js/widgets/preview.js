// Preview widget: follows its `hovered` / `selected` traits (link them with ipywidgets.jslink).
import { mount } from "../lib/mount.js";
import { previewPanel } from "../lib/panels/preview.js";

export default {
  render({ model, el }) {
    return mount(model, el, "amumo-preview", ({ rpc, hub, items, root }) => {
      const pp = previewPanel(model, rpc, hub, items, { title: model.get("title") || "Preview" });
      root.append(pp.root);
      return {
        panels: [pp],
        extra: [
          (() => {
            // Show the current trait values once data is there.
            queueMicrotask(() => {
              hub.onHoveredTrait();
              hub.onSelectedTrait();
            });
            return () => {};
          })(),
        ],
      };
    });
  },
};
