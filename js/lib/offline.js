// Static HTML export (save_html): the page has no kernel. What the export carries
// (`static_export` in the widget state, written by amumo/widgets/_offline.py):
//   controls: trait names whose states were precomputed (e.g. ["closed", "cluster"]);
//   states:   {"01": {trait: value, ...}} the view traits for each combination ("0"/"1" per control);
//   fields:   {pairId: {column: value}} meta rows for the preview cards;
//   thumbs:   {modality: {data: DataView, offsets: [..], mimes: [..], missing: {pairId: reason}}};
//   note:     a sentence shown at the top of the widget.
// Controls that need the kernel are greyed out (class amumo-offline-off) with a tooltip saying so;
// precomputed controls swap the stored trait values into the model, so the views redraw as live.
// A selection saved with the page is drawn; its metrics column (computed by the kernel) is
// shown only while the selection is the saved one, since the page cannot recompute it.

/** Tooltip of every control that needs the kernel. */
export const NEEDS_KERNEL = "Needs the Python kernel: this exported page cannot recompute it (open the notebook).";

import { h } from "./util.js";

/** requestTexts(ids) answered from the export's meta rows (`textField` column). */
export function staticRequestTexts(info, textField) {
  return (ids) => Promise.resolve(ids.map((id) => {
    const row = info.fields ? info.fields[String(id)] : null;
    const value = row && textField ? row[textField] : null;
    return value === null || value === undefined ? "" : String(value);
  }));
}

/** Controls that work in the page without a kernel (drawn by the browser alone). */
const BROWSER_CONTROLS = [".amumo-colormap", ".amumo-lines-toggle"];
/** Precomputed on/off controls: trait -> selector (live only when the export carries states). */
const PRECOMPUTED_CONTROLS = { closed: ".amumo-close-gap", cluster: ".amumo-cluster-toggle" };

/** The export's data, or null in a live notebook. */
export function staticExport(model) {
  const value = model.get("static_export");
  return value && typeof value === "object" && value.version ? value : null;
}

/** fetchItem(pair, modality) answered from the export (same shape as the kernel's reply). */
export function staticFetchItem(info, items) {
  return (pair, modality) => {
    const id = items.id(pair);
    if (modality === null || modality === undefined) {
      const fields = info.fields ? info.fields[String(id)] : null;
      return Promise.resolve({ fields: fields || null, error: null, image: null, credit: null });
    }
    const thumbs = info.thumbs && info.thumbs[modality];
    const credit = info.credits ? info.credits[String(id)] || null : null;
    if (!thumbs) return Promise.resolve({ fields: null, error: info.no_thumbs || "no image in this export", image: null, credit });
    const k = thumbs.ids ? thumbs.ids.indexOf(id) : -1;
    if (k < 0 || thumbs.offsets[k + 1] === thumbs.offsets[k]) {
      const reason = (thumbs.missing && thumbs.missing[String(id)]) || "no image in this export";
      return Promise.resolve({ fields: null, error: reason, image: null, credit });
    }
    const data = thumbs.data;
    const bytes = new Uint8Array(data.buffer, data.byteOffset + thumbs.offsets[k], thumbs.offsets[k + 1] - thumbs.offsets[k]);
    return Promise.resolve({ fields: null, error: null, image: new Blob([bytes], { type: thumbs.mimes[k] }), credit });
  };
}

/**
 * In a static page: show the note, grey out what needs the kernel, and make the precomputed
 * controls swap their stored states in. Returns a cleanup function (no-op in a live notebook).
 */
export function applyStaticExport(model, root) {
  const info = staticExport(model);
  if (!info) return () => {};
  root.classList.add("amumo-static");
  const note = h("div", { class: "amumo-static-note", role: "note" }, h("b", { text: "Static page · " }), info.note || "");
  root.prepend(note);
  // Every other input and select needs the kernel: grey it out, say why on hover.
  const live = [...BROWSER_CONTROLS, ...(info.controls || []).map((c) => PRECOMPUTED_CONTROLS[c]).filter(Boolean)];
  for (const el of root.querySelectorAll("input, select, textarea")) {
    if (live.some((selector) => el.matches(selector))) continue;
    el.disabled = true;
    el.tabIndex = -1;
    el.classList.add("amumo-offline-control");
    const holder = el.closest("label") || el;
    holder.classList.add("amumo-offline-off");
    holder.title = NEEDS_KERNEL;
    el.title = NEEDS_KERNEL; // the control's own tooltip (e.g. the remedy's method) would win
  }
  // The saved selection's metrics are the kernel's: stale once the selection changes here.
  const saved = (model.get("selected") || []).join(",");
  let replaying = false;
  const dropStaleSelection = () => {
    if (replaying || (model.get("selected") || []).join(",") === saved) return;
    const m = model.get("metrics");
    if (m && m.selection && m.selection.n) model.set("metrics", { ...m, selection: {} });
  };
  model.on("change:selected", dropStaleSelection);
  if (saved) {
    // Views draw a selection when the trait changes; the page opens with one already set.
    requestAnimationFrame(() => {
      const ids = model.get("selected");
      replaying = true;
      model.set("selected", []);
      model.set("selected", ids);
      replaying = false;
    });
  }
  const controls = info.controls || [];
  const key = () => controls.map((c) => (model.get(c) ? "1" : "0")).join("");
  const states = { ...(info.states || {}) };
  const traits = new Set(Object.values(states).flatMap((s) => Object.keys(s)));
  // The state the page opened in is the widget's own state: keep it to come back to.
  const initial = {};
  for (const t of traits) initial[t] = model.get(t);
  states[key()] = initial;
  let current = key();
  const apply = () => {
    const next = key();
    if (next === current || !states[next]) return;
    current = next;
    for (const [trait, value] of Object.entries(states[next])) model.set(trait, value);
    dropStaleSelection();
    root.dataset.staticState = next;
  };
  root.dataset.staticState = current;
  for (const c of controls) model.on(`change:${c}`, apply);
  return () => {
    for (const c of controls) model.off(`change:${c}`, apply);
    model.off("change:selected", dropStaleSelection);
  };
}
