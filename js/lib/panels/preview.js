// Preview panel: cards of the hovered items, fetched lazily (or from a save_html export).

import { PreviewView } from "../preview_view.js";
import { previewData } from "../decode.js";
import { fetchItem } from "../requests.js";
import { staticExport, staticFetchItem } from "../offline.js";
import { joinPreview } from "../link/views.js";
import { panel } from "./frame.js";

/** Preview panel. */
export function previewPanel(model, rpc, bus, items, opts = {}) {
  const p = panel(opts.title || "Preview", "amumo-preview-panel");
  const info = staticExport(model); // a save_html page answers from the exported data
  const view = new PreviewView(p.body, { fetchItem: info ? staticFetchItem(info, items) : fetchItem(rpc, items) });
  const leave = joinPreview(bus, view, items);
  const refresh = () => view.setData(previewData(model, items));
  return { root: p.root, view, refresh, traits: ["kinds", "media", "modality_colors", "meta_version"], dispose() { leave(); view.dispose(); } };
}
