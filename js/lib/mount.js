// Mount helper shared by the widget entry points: root element, RPC, items, the link bus
// (with the kernel subscribed to it), panels.

import { Items } from "./items.js";
import { LinkBus } from "./link/bus.js";
import { linkKernel } from "./link/kernel.js";
import { connect } from "./panels/connect.js";
import { Rpc, h, now } from "./util.js";
import { applyStaticExport, staticExport, staticRequestTexts } from "./offline.js";
import { requestTexts } from "./requests.js";

/**
 * Build a widget: `build(ctx)` returns the panels (each {root, refresh, traits, dispose}) and may
 * append extra DOM; mount refreshes them once, marks `data-rendered` after the first frame is
 * drawn, and returns anywidget's cleanup function. `ctx` is {model, root, rpc, items, bus,
 * kernel}: views join the linking by subscribing to `bus` (link/bus.js); `kernel.pull()`
 * publishes the `hovered` / `selected` traits' current values.
 */
export function mount(model, el, cls, build) {
  const t0 = now();
  const root = h("div", { class: `amumo-root ${cls}` });
  el.append(root);
  const rpc = new Rpc(model);
  if (staticExport(model)) {
    // A save_html page has no kernel: answer every request at once (instead of a timeout
    // after 30 s) with an error that panels show, as they show the kernel's errors.
    rpc.call = () => Promise.resolve({ msg: { error: "needs the Python kernel: this is an exported page (open the notebook)" }, buffers: [] });
  }
  const items = new Items(model);
  const exported = staticExport(model);
  items.pairTexts.request = exported ? (ids) => staticRequestTexts(exported, items.textField)(ids) : requestTexts(rpc);
  const bus = new LinkBus(root);
  const kernel = linkKernel(model, bus, items);
  const ctx = { model, root, rpc, items, bus, kernel };
  const { panels, extra = [], dispose = () => {} } = build(ctx);
  const offStatic = applyStaticExport(model, root); // save_html page: note, greyed-out controls
  let version = 0;
  bus.on("data", () => {
    version += 1;
    root.dataset.version = String(version);
  });
  const off = connect(model, items, panels, bus);
  for (const p of panels) p.refresh();
  requestAnimationFrame(() => {
    root.dataset.renderMs = (now() - t0).toFixed(1);
    root.dataset.renderedAt = String(Date.now()); // wall clock, comparable with the kernel's
    root.dataset.rendered = "true";
  });
  return () => {
    off();
    offStatic();
    kernel.dispose();
    bus.dispose();
    rpc.dispose();
    for (const p of panels) p.dispose();
    for (const fn of extra) fn();
    dispose();
  };
}
