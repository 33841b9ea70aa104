// Explorer: controls + heatmap + scatter + preview + metrics in one widget, linked in the browser.
import { mount } from "../lib/mount.js";
import { heatmapPanel } from "../lib/panels/heatmap.js";
import { scatterPanel } from "../lib/panels/scatter.js";
import { previewPanel } from "../lib/panels/preview.js";
import { queryPanel } from "../lib/panels/query.js";
import { selectionPanel } from "../lib/panels/selection.js";
import { fetchItem } from "../lib/requests.js";
import { staticExport, staticFetchItem } from "../lib/offline.js";
import { pairPicker, metricsGapMatrix } from "../lib/gap_pair.js";
import { h, bind, setOptions, throttle, debounce, fmt } from "../lib/util.js";
import { mitigationPicker, retrievalPanel, calibrationPanel } from "../lib/science_view.js";

function controls(model) {
  const unbind = [];
  const modelPick = h("select", { class: "amumo-model-picker", "aria-label": "model" });
  const augPick = h("select", { class: "amumo-augmentation", "aria-label": "augmentation" });
  const closed = h("input", { type: "checkbox", class: "amumo-close-gap" });
  const [lo, hi] = model.get("lam_range") || [-1, 1.5];
  const slider = h("input", { type: "range", min: lo, max: hi, step: 0.05, class: "amumo-lam", "aria-label": "lambda" });
  const lamValue = h("output", { class: "amumo-lam-value" });
  const filter = h("input", { type: "search", class: "amumo-filter", placeholder: "filter captions…", "aria-label": "caption filter" });
  const filterMode = h("select", { class: "amumo-filter-mode", "aria-label": "filter mode" });
  setOptions(filterMode, [["any", "any word"], ["all", "all words"]]);
  const count = h("span", { class: "amumo-count" });
  const status = h("span", { class: "amumo-chip amumo-busy-chip amumo-status", hidden: true });

  const syncPickers = () => {
    const names = model.get("model_names") || [];
    setOptions(modelPick, names.map((n) => [n, n]), model.get("model_name"));
    modelPick.parentElement && (modelPick.parentElement.hidden = names.length < 2);
    const augs = model.get("augmentations") || [];
    setOptions(augPick, augs.map((n) => [n, n]), model.get("augmentation"));
    augPick.parentElement && (augPick.parentElement.hidden = augs.length < 2);
  };
  // The slider is λ for "shift" and the strength (0…1) of "center" / "standardize".
  const isShift = () => (model.get("mitigation") || "shift") === "shift";
  const sliderText = (v) => (isShift() ? `λ = ${fmt(v, 2)}` : `strength ${fmt(v, 2)}`);
  const syncLam = () => {
    const shiftMode = isShift();
    slider.min = String(shiftMode ? lo : 0);
    slider.max = String(shiftMode ? hi : 1);
    const value = shiftMode ? model.get("lam") : model.get("strength");
    if (document.activeElement !== slider) slider.value = String(value);
    const isClosed = model.get("closed");
    slider.disabled = isClosed;
    lamValue.textContent = isClosed ? "closed" : sliderText(value);
  };
  // Under an augmentation the pairs are other pairs (base pairs × levels): say so.
  const augNote = h("div", { class: "amumo-aug-note", hidden: true });
  const syncAugNote = () => {
    const text = model.get("augmentation_note") || "";
    augNote.hidden = !text;
    augNote.textContent = text;
  };
  const syncCount = () => {
    const n = model.get("n_pairs"), total = model.get("n_total");
    count.textContent = n === total ? `${total.toLocaleString()} pairs` : `${n.toLocaleString()} of ${total.toLocaleString()} pairs`;
    count.classList.toggle("amumo-count-filtered", n !== total);
  };
  const syncStatus = () => {
    const text = model.get("status");
    status.hidden = !text;
    status.textContent = text || "";
  };
  const sendLam = throttle((value) => {
    model.set("lam", value);
    model.save_changes();
  }, 150);
  const sendStrength = throttle((value) => {
    model.set("strength", value);
    model.save_changes();
  }, 150);
  slider.addEventListener("input", () => {
    const value = Number(slider.value);
    lamValue.textContent = sliderText(value);
    (isShift() ? sendLam : sendStrength)(value);
  });
  const sendFilter = debounce(() => {
    model.set("filter_text", filter.value);
    model.save_changes();
  }, 300);
  filter.value = model.get("filter_text") || "";
  filter.addEventListener("input", sendFilter);
  const onFilterTrait = () => {
    if (filter.value !== model.get("filter_text")) filter.value = model.get("filter_text");
  };
  model.on("change:filter_text", onFilterTrait);
  unbind.push(() => model.off("change:filter_text", onFilterTrait));
  unbind.push(bind(model, "model_name", modelPick));
  unbind.push(bind(model, "augmentation", augPick));
  unbind.push(bind(model, "closed", closed, { kind: "checked" }));
  unbind.push(bind(model, "filter_mode", filterMode));

  const pairPick = pairPicker(model);
  unbind.push(pairPick.dispose);
  const remedy = mitigationPicker(model);
  unbind.push(remedy.dispose);
  const bar = h("div", { class: "amumo-controls" },
    h("label", { class: "amumo-field" }, h("span", { text: "model" }), modelPick),
    h("label", { class: "amumo-field" }, h("span", { text: "augmentation" }), augPick),
    pairPick.el,
    h("div", { class: "amumo-gap-controls" },
      remedy.el,
      h("label", { class: "amumo-switch amumo-switch-strong", title: "Shift both modalities along the gap vector until it is closed" }, closed, h("span", { text: "close the gap" })),
      h("label", { class: "amumo-field amumo-lam-field", title: "Shift λ: each modality moves λ/2 of the gap toward the other" }, slider, lamValue)),
    h("div", { class: "amumo-filter-box" }, filter, filterMode, count),
    status,
    augNote);
  const events = { model_names: syncPickers, model_name: syncPickers, augmentations: syncPickers, augmentation: syncPickers, lam: syncLam, closed: syncLam, mitigation: syncLam, strength: syncLam, n_pairs: syncCount, n_total: syncCount, status: syncStatus, augmentation_note: syncAugNote };
  for (const [name, fn] of Object.entries(events)) model.on(`change:${name}`, fn);
  unbind.push(() => Object.entries(events).forEach(([name, fn]) => model.off(`change:${name}`, fn)));
  queueMicrotask(syncPickers);
  syncPickers();
  syncLam();
  syncCount();
  syncStatus();
  syncAugNote();
  return { bar, dispose: () => unbind.forEach((f) => f()) };
}

// Retrieval metrics of very many pairs are estimates (seeded queries against all candidates).
const approx = (row) => (row.estimate ? "≈ " : "");
const ciTitle = (ci) => (ci ? `95 % interval ${fmt(ci[0], 3)} – ${fmt(ci[1], 3)}` : undefined);

function metricsPanel(model) {
  const matrixBox = h("div", { class: "amumo-gap-matrix-box" });
  const pairChip = h("span", { class: "amumo-chip amumo-pair-chip", hidden: true });
  const table = h("table", { class: "amumo-metrics-table" });
  const note = h("div", { class: "amumo-metrics-note" });
  const busyChip = h("span", { class: "amumo-chip amumo-busy-chip amumo-metrics-busy", hidden: true });
  const root = h("section", { class: "amumo-panel amumo-metrics-panel" },
    h("div", { class: "amumo-panel-head" }, h("span", { class: "amumo-panel-title", text: "Metrics" }), busyChip, pairChip),
    h("div", { class: "amumo-panel-body" }, table, note, matrixBox));
  const refresh = () => {
    const m = model.get("metrics") || {};
    const rows = m.rows || [];
    // Never silent: while newer numbers compute, the old ones stay, greyed, under a busy chip.
    const busy = (model.get("busy") || {}).metrics || (m.pending ? "computing…" : "");
    root.dataset.pending = m.pending || busy ? "true" : "false";
    root.classList.toggle("amumo-stale", !!(m.pending || busy));
    busyChip.hidden = !busy;
    busyChip.textContent = busy || "";
    const sel = m.selection && m.selection.n ? m.selection : null; // metrics of the selected pairs
    const selCell = (row) => (sel ? [h("td", { class: "amumo-metric amumo-metric-selection", "data-metric": row.key, "data-value": sel[row.key] ?? "", text: sel[row.key] === undefined ? "" : fmt(sel[row.key], row.digits ?? 3) })] : []);
    root.dataset.selection = sel ? String(sel.n) : "0";
    table.replaceChildren(
      h("thead", {}, h("tr", {}, h("th", { text: "" }), h("th", { text: "before" }), h("th", { text: "now" }),
        ...(sel ? [h("th", { text: `selected (${sel.n.toLocaleString()})`, title: "the selected pairs, now; retrieval among them only" })] : []))),
      h("tbody", {}, ...rows.map((row) => {
        const delta = row.after - row.before;
        const better = row.better === "lower" ? delta < -1e-9 : row.better === "higher" ? delta > 1e-9 : false;
        const worse = row.better === "lower" ? delta > 1e-9 : row.better === "higher" ? delta < -1e-9 : false;
        return h("tr", { "data-metric": row.key },
          h("th", { text: row.label, title: row.help || "" }),
          h("td", { class: "amumo-metric amumo-metric-before", "data-metric": row.key, "data-value": row.before, title: ciTitle(row.ci_before), text: approx(row) + fmt(row.before, row.digits ?? 3) }),
          h("td", { class: `amumo-metric amumo-metric-after${better ? " amumo-better" : worse ? " amumo-worse" : ""}`, "data-metric": row.key, "data-value": row.after, title: ciTitle(row.ci_after), text: approx(row) + fmt(row.after, row.digits ?? 3) }),
          ...selCell(row));
      })));
    const estimated = rows.find((row) => row.estimate);
    note.textContent = [m.note || "", estimated ? "≈ estimated: seeded queries ranked against all pairs (hover for the 95 % interval)" : ""].filter(Boolean).join(" · ");
    const matrix = metricsGapMatrix(model);
    pairChip.hidden = !matrix;
    pairChip.textContent = m.pair ? `${m.pair[0]}–${m.pair[1]}` : "";
    matrixBox.replaceChildren(...(matrix ? [matrix] : []));
  };
  return { root, refresh, traits: ["metrics", "busy"], dispose() {} };
}

export default {
  render({ model, el }) {
    return mount(model, el, "amumo-explorer", ({ rpc, bus, items, root }) => {
      const bar = controls(model);
      const error = h("div", { class: "amumo-error", hidden: true });
      const syncError = () => {
        error.hidden = !model.get("error");
        error.textContent = model.get("error") || "";
      };
      syncError();
      model.on("change:error", syncError);
      const hp = heatmapPanel(model, rpc, bus, items, { title: "Similarity", maxSide: 560 });
      const sp = scatterPanel(model, rpc, bus, items, { title: "Projection", maxSide: 560, viewport: true });
      const pp = previewPanel(model, rpc, bus, items);
      const sel = selectionPanel(model, rpc, bus, items);
      const mp = metricsPanel(model);
      const grid = h("div", { class: "amumo-grid" }, hp.root, sp.root, h("div", { class: "amumo-side" }, pp.root, sel.root, mp.root));
      const exported = staticExport(model);
      const qp = queryPanel(model, rpc, bus, items, exported ? staticFetchItem(exported, items) : fetchItem(rpc, items));
      const rp = retrievalPanel(model, rpc, bus, items);
      const cp = calibrationPanel(model);
      const science = h("div", { class: "amumo-science-row" }, rp.root, cp.root);
      root.append(bar.bar, error, grid, qp.root, science);
      return {
        panels: [hp, sp, pp, sel, mp, qp, rp, cp],
        extra: [bar.dispose, () => model.off("change:error", syncError)],
      };
    });
  },
};
