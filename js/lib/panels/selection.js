// Selection panel: how many pairs are selected, and writing down what they are: a label for
// the selection (kernel request {type: "annotate"}; the labels are a meta column,
// `annotation_column`), undo of the last label, the labels with their counts, showing only
// the pairs of one label (trait `label_filter`) and colouring the projection by the labels.
// An ordinary subscriber of the link bus: it follows the "selection" event.

import { h, bind, setOptions, watch } from "../util.js";
import { panel } from "./frame.js";

const UNLABELLED = "(unlabelled)";

/** Selection panel. */
export function selectionPanel(model, rpc, bus, items, opts = {}) {
  const self = {};
  const count = h("span", { class: "amumo-chip amumo-selection-count", text: "none selected" });
  const input = h("input", { type: "text", class: "amumo-label-input", placeholder: "label, e.g. dogs", "aria-label": "label for the selected pairs" });
  const options = h("datalist", { id: `amumo-labels-${Math.random().toString(36).slice(2, 9)}` });
  input.setAttribute("list", options.id);
  const label = h("button", { class: "amumo-btn amumo-label-button", type: "button", text: "Label", title: "Write this label into the selected pairs' meta column" });
  const undo = h("button", { class: "amumo-btn amumo-undo-label", type: "button", text: "↶", title: "Undo the last label", "aria-label": "undo the last label" });
  const show = h("select", { class: "amumo-label-filter", "aria-label": "show pairs with label" });
  const colour = h("input", { type: "checkbox", class: "amumo-colour-by-label" });
  const labels = h("div", { class: "amumo-label-list" });
  const message = h("div", { class: "amumo-label-message", hidden: true });
  const form = h("form", { class: "amumo-label-form" }, input, options, label, undo);
  const p = panel(opts.title || "Selection", "amumo-selection-panel", [count]);
  const filterRow = h("div", { class: "amumo-label-row" },
    h("label", { class: "amumo-field", title: "Show only the pairs with this label (the other views follow)" }, h("span", { text: "show" }), show),
    h("label", { class: "amumo-switch", title: "Colour the projection by the labels" }, colour, h("span", { text: "colour by labels" })));
  p.body.append(form, message, labels, filterRow);
  const root = p.root;
  let selected = [];

  const syncCount = () => {
    const n = selected.length;
    count.textContent = n ? `${n.toLocaleString()} selected` : "none selected";
    label.disabled = !n || !input.value.trim();
    label.title = n ? `Write the label into the ${n.toLocaleString()} selected pairs (column ${model.get("annotation_column")})` : "Select pairs first (box or lasso in the projection)";
    root.dataset.selected = String(n);
  };
  const say = (text, bad = false) => {
    message.hidden = !text;
    message.textContent = text || "";
    message.classList.toggle("amumo-query-error", bad);
  };

  const refresh = () => {
    const column = model.get("annotation_column") || "annotation";
    const list = model.get("annotation_labels") || [];
    const undoText = model.get("annotation_undo") || "";
    undo.disabled = !undoText;
    undo.title = undoText ? `${undoText[0].toUpperCase()}${undoText.slice(1)}` : "Nothing to undo";
    options.replaceChildren(...list.filter((l) => !l.unlabelled).map((l) => h("option", { value: l.label })));
    const named = list.filter((l) => !l.unlabelled);
    root.dataset.labels = named.map((l) => `${l.label}:${l.count}`).join(",");
    labels.replaceChildren(...(named.length
      ? [h("span", { class: "amumo-muted", text: `${column}: ` }), ...list.map((l) => h("span", { class: `amumo-label-chip${l.unlabelled ? " amumo-label-none" : ""}`, title: l.unlabelled ? "pairs without a label" : `pairs labelled ${l.label}` },
        l.unlabelled ? "unlabelled" : l.label, h("span", { class: "amumo-muted", text: ` ${l.count.toLocaleString()}` })))]
      : [h("span", { class: "amumo-muted", text: "Select pairs (box or lasso), type a label, press Label: it becomes a meta column to colour and filter by, kept by emb.save and save_html." })]));
    const current = model.get("label_filter") || "";
    setOptions(show, [["", "all pairs"], ...named.map((l) => [l.label, l.label]), ...(list.some((l) => l.unlabelled) && named.length ? [[UNLABELLED, "unlabelled"]] : [])], current);
    show.disabled = !named.length && !current;
    const offered = (model.get("color_options") || []).includes(column);
    colour.disabled = !offered;
    colour.checked = model.get("color_by") === column;
    syncCount();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || !selected.length) return;
    rpc.call({ type: "annotate", label: text, pairs: selected.map((pair) => items.id(pair)) }).then(({ msg }) => {
      if (msg.error) say(msg.error, true);
      else say(`labelled ${msg.count.toLocaleString()} pair${msg.count === 1 ? "" : "s"} ${JSON.stringify(text)}`);
    }, (err) => say(String(err && err.message ? err.message : err), true));
  });
  label.addEventListener("click", (event) => {
    event.preventDefault();
    form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
  });
  undo.addEventListener("click", () => {
    rpc.call({ type: "undo_annotation" }).then(({ msg }) => {
      if (msg.error) say(msg.error, true);
      else say(msg.undone ? msg.undone : "nothing to undo");
    }, (err) => say(String(err && err.message ? err.message : err), true));
  });
  input.addEventListener("input", syncCount);
  colour.addEventListener("change", () => {
    model.set("color_by", colour.checked ? model.get("annotation_column") : "modality");
    model.save_changes();
  });
  const unbind = [bind(model, "label_filter", show)];
  unbind.push(watch(model, ["color_by", "color_options"], refresh));
  const leave = bus.subscribe(self, {
    selection: ({ pairs }) => {
      selected = pairs || [];
      syncCount();
    },
  });
  return {
    root,
    refresh,
    traits: ["annotation_labels", "annotation_undo", "annotation_column", "label_filter"],
    dispose() {
      leave();
      unbind.forEach((f) => f());
    },
  };
}
