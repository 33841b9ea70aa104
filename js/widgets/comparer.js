// Comparer: one heatmap per model over the same items, hover linked across them in the browser.
import { mount } from "../lib/mount.js";
import { HeatmapView } from "../lib/heatmap_view.js";
import { heatmapData } from "../lib/decode.js";
import { requestWindow, requestCell } from "../lib/requests.js";
import { h, u8, i32, bind, setOptions, fmt } from "../lib/util.js";
import { COLORMAPS } from "../lib/colormaps.js";
import { clusterBySelect, renderClusterKey } from "../lib/cluster_names.js";
import { joinHeatmap } from "../lib/link/views.js";

export default {
  render({ model, el }) {
    return mount(model, el, "amumo-comparer", ({ rpc, bus, items, root }) => {
      const cluster = h("input", { type: "checkbox", class: "amumo-cluster-toggle" });
      const cmap = h("select", { class: "amumo-colormap" });
      setOptions(cmap, COLORMAPS.map((c) => [c, c]));
      const clusterBy = clusterBySelect(model);
      const unbind = [bind(model, "cluster", cluster, { kind: "checked" }), bind(model, "colormap", cmap), clusterBy.dispose];
      const readout = h("div", { class: "amumo-readout" });
      const bar = h("div", { class: "amumo-controls" },
        h("label", { class: "amumo-switch" }, cluster, h("span", { text: "cluster (first model's order)" })), clusterBy.el, cmap, readout);
      const grid = h("div", { class: "amumo-compare-grid" });
      // One key of the clusters for every model (they share the first model's order).
      const key = h("ol", { class: "amumo-cluster-key amumo-compare-key", hidden: true, "aria-label": "clusters" });
      root.append(bar, grid, key);
      let views = [];
      const build = () => {
        for (const v of views) {
          v.leave();
          v.view.dispose();
        }
        grid.replaceChildren();
        views = (model.get("names") || []).map((name, k) => {
          const title = h("span", { class: "amumo-panel-title", text: name });
          const value = h("span", { class: "amumo-chip amumo-compare-value" });
          const cell = h("section", { class: "amumo-panel amumo-compare-cell", "data-name": name },
            h("div", { class: "amumo-panel-head" }, title, value));
          const body = h("div", { class: "amumo-panel-body" });
          cell.append(body);
          grid.append(cell);
          const view = new HeatmapView(body, {
            onHover: (info) => onHover(info, k),
            requestWindow: requestWindow(rpc, { view: k }),
            requestCell: requestCell(rpc, { view: k }),
            maxSide: 420,
            minSide: 180,
            clusterKey: false,
          });
          return { view, value, name, leave: joinHeatmap(bus, view, items) };
        });
      };
      let hoverToken = 0;
      const onHover = (info, k) => {
        bus.cellHover(info, views[k] && views[k].view);
        const token = ++hoverToken;
        for (const v of views) {
          if (!info) {
            v.value.textContent = "";
            continue;
          }
          const { pos: r } = info.row, { pos: c } = info.col;
          const exact = v.view.exactValue(r, c);
          const approx = v.view.approxValue(r, c);
          v.value.textContent = exact !== null ? fmt(exact, 3) : `≈ ${fmt(approx.value, 2)}`;
          v.value.dataset.value = exact !== null ? String(exact) : "";
          if (exact === null && v.view.opts.requestCell) {
            // Exact value from the kernel; shown if the pointer is still on that cell.
            setTimeout(() => {
              if (token !== hoverToken) return;
              v.view.opts.requestCell(r, c).then((value) => {
                if (token !== hoverToken) return;
                v.value.textContent = fmt(value, 3);
                v.value.dataset.value = String(value);
              }).catch(() => {});
            }, 40);
          }
        }
        readout.textContent = info ? `${info.row.modality} #${items.id(info.row.pair)} · ${info.col.modality} #${items.id(info.col.pair)}` : "";
      };
      const panel = {
        traits: ["names", "overviews", "scales", "overview_size", "order", "cluster_bounds", "cluster_legend", "colormap"],
        refresh() {
          const names = model.get("names") || [];
          if (names.length !== views.length || names.some((n, k) => views[k].name !== n)) build();
          const overviews = model.get("overviews") || [];
          const scales = model.get("scales") || [];
          views.forEach((v, k) => {
            const data = heatmapData({ get: (name) => (name === "overview" ? overviews[k] : name === "scale" ? scales[k] : model.get(name)) }, items);
            data.overview = u8(overviews[k]);
            v.view.setData(data);
          });
          renderClusterKey(key, { clusterNames: model.get("cluster_legend") || [], bounds: i32(model.get("cluster_bounds")), N: items.N },
            (e) => views.forEach((v) => v.view.outlineCluster(e)));
        },
        dispose() {
          unbind.forEach((f) => f());
          views.forEach((v) => {
            v.leave();
            v.view.dispose();
          });
        },
      };
      return { panels: [panel] };
    });
  },
};
