// Query panel: ask the pairs a question (kernel request {type: "query"}), list the top-k of
// every modality (trait `query_result`), and mark the query in the scatter. Both the list and
// the marker are ordinary subscribers of the link bus (link/bus.js): the panel publishes the
// query ("query" event: the scatter draws the star, the arrow to the far cone, rings on the
// neighbours), hovering a listed item publishes a pair hover (every view marks that pair),
// and a pair hovered anywhere is marked in the list when it is one of the neighbours.

import { h, fmt, watch } from "../util.js";
import { panel } from "./frame.js";
import { mediaCache, portraitElement } from "../portraits.js";

const PLURAL = { image: "images", text: "texts", audio: "sounds", caption: "captions" };

/** "10 nearest images" for `count` items of `modality`. */
function nearestLabel(count, modality) {
  return `${count} nearest ${count === 1 ? modality : PLURAL[modality] || `${modality} items`}`;
}

/** Query panel. `fetch(viewPair, modality)` fetches thumbnails (the preview's fetch). */
export function queryPanel(model, rpc, bus, items, fetch, opts = {}) {
  const self = {}; // this panel as the source of the events it publishes
  const input = h("input", { type: "search", class: "amumo-query-input", "aria-label": "query", placeholder: "ask the pairs: a dog on a beach…" });
  const k = h("input", { type: "number", class: "amumo-query-k", min: 1, max: 100, step: 1, "aria-label": "neighbours per modality", title: "neighbours listed per modality" });
  const ask = h("button", { class: "amumo-btn amumo-query-ask", type: "button", text: "Ask", title: "Encode the text with the model, search every modality, mark it in the projection" });
  const clear = h("button", { class: "amumo-btn amumo-query-clear", type: "button", text: "✕", title: "Remove the query", "aria-label": "remove the query" });
  const status = h("span", { class: "amumo-chip amumo-busy-chip", hidden: true });
  const reason = h("div", { class: "amumo-query-reason", hidden: true });
  const note = h("div", { class: "amumo-query-note" });
  const lists = h("div", { class: "amumo-query-lists" });
  const form = h("form", { class: "amumo-query-form" }, input, h("label", { class: "amumo-field", title: "neighbours listed per modality" }, h("span", { text: "k" }), k), ask, clear);
  const p = panel(opts.title || "Ask", "amumo-query-panel", [status]);
  p.body.append(form, reason, note, lists);
  const root = p.root;
  const cache = mediaCache(items, fetch);
  let rows = []; // [{el, pair (id), m}]
  let pending = 0;
  // The lists of the same question before the view changed (close the gap, λ, a remedy):
  // each neighbour shows whether it is new or moved up / down since.
  let previous = null; // {key, id, ranks: {modality: Map(pair -> rank)}, compare: the lists before}

  const syncInfo = () => {
    const info = model.get("query_info") || {};
    const enabled = !!info.enabled;
    input.disabled = !enabled;
    ask.disabled = !enabled;
    input.placeholder = enabled ? `ask the pairs (${info.text_modality}): a dog on a beach…` : "no encoder: typed questions are off";
    reason.hidden = enabled || !info.reason;
    reason.textContent = info.reason || "";
    root.dataset.enabled = String(enabled);
    if (document.activeElement !== k) k.value = String(model.get("query_k") || 10);
  };

  const setBusy = (text) => {
    status.hidden = !text;
    status.textContent = text || "";
  };

  const send = (content) => {
    const mine = ++pending;
    setBusy("searching…");
    root.dataset.pending = "true";
    rpc.call(content, 120000).then(({ msg }) => {
      if (mine !== pending) return;
      setBusy((model.get("busy") || {}).query || "");
      root.dataset.pending = "false";
      if (msg.error) {
        note.textContent = msg.error;
        note.classList.add("amumo-query-error");
      }
    }, (err) => {
      if (mine !== pending) return;
      setBusy("");
      root.dataset.pending = "false";
      note.textContent = String(err && err.message ? err.message : err);
      note.classList.add("amumo-query-error");
    });
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || input.disabled) return;
    const kk = Math.max(1, Math.min(100, parseInt(k.value || "10", 10) || 10));
    send({ type: "query", text, k: kk });
  });
  ask.addEventListener("click", (event) => {
    event.preventDefault();
    form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
  });
  clear.addEventListener("click", (event) => {
    event.preventDefault();
    input.value = "";
    send({ type: "clear_query" });
  });

  const modalityColor = (m) => (model.get("modality_colors") || [])[m] || "#374151";

  /** The bus's "query" event for the scatter: star, arrows to the other modalities, rings. */
  const marker = (q) => {
    const names = items.modalities;
    const m = names.indexOf(q.modality);
    const rings = [];
    for (const [name, list] of Object.entries(q.results || {})) {
      const mm = names.indexOf(name);
      if (mm < 0) continue;
      for (const r of list) {
        const view = items.view(r.pair);
        if (view >= 0) rings.push({ item: mm * items.N + view, color: modalityColor(mm) });
      }
    }
    const regions = Object.entries(q.regions || {}).map(([name, region]) => ({
      point: region.point,
      label: nearestLabel(region.count, name),
      color: modalityColor(names.indexOf(name)),
    }));
    return { point: q.point || null, label: q.label || "", color: modalityColor(m), regions, rings };
  };

  /** "new" / "↑2" / "↓1" / "" for neighbour r of `name` against the previous lists. */
  const change = (r, name, before) => {
    if (!before) return null;
    const old = before[name] ? before[name].get(r.pair) : undefined;
    if (old === undefined) return h("span", { class: "amumo-query-change amumo-query-new", title: "not among the neighbours before the view changed", text: "new" });
    if (old === r.rank) return h("span", { class: "amumo-query-change" });
    const up = old > r.rank;
    return h("span", { class: `amumo-query-change ${up ? "amumo-query-up" : "amumo-query-down"}`, title: `rank ${old} before the view changed`, text: `${up ? "↑" : "↓"}${Math.abs(old - r.rank)}` });
  };

  const row = (r, name, m, kind, hasMedia, before) => {
    const picture = kind === "image" && hasMedia ? portraitElement({ pair: r.pair, modality: name, kind }, cache, { size: 30 }) : null;
    const more = h("button", {
      class: "amumo-query-more",
      type: "button",
      title: `more like this: search with ${name} #${r.pair}`,
      "aria-label": `more like ${name} ${r.pair}`,
      text: "≈",
      onclick: (event) => {
        event.stopPropagation();
        send({ type: "query", like: r.pair, modality: name, k: Math.max(1, parseInt(k.value || "10", 10) || 10) });
      },
    });
    const el = h("li", {
      class: "amumo-query-row",
      "data-pair": r.pair,
      "data-modality": name,
      onmouseenter: () => {
        const view = items.view(r.pair);
        if (view >= 0) bus.pairHover({ pair: view, m }, self);
        el.classList.add("amumo-query-hovered");
      },
      onmouseleave: () => {
        el.classList.remove("amumo-query-hovered");
        bus.clearHover(self);
      },
    },
    h("span", { class: "amumo-query-rank", text: String(r.rank) }),
    picture || h("span", { class: "amumo-query-nopic" }),
    h("span", { class: "amumo-query-text", title: r.text, text: r.text }),
    change(r, name, before) || h("span", { class: "amumo-query-change" }),
    h("span", { class: "amumo-query-cos", title: "cosine with the query", text: fmt(r.cosine, 3) }),
    more);
    rows.push({ el, pair: r.pair, m });
    return el;
  };

  const refresh = () => {
    syncInfo();
    setBusy((model.get("busy") || {}).query || "");
    const q = model.get("query_result") || {};
    rows = [];
    const has = !!(q && q.results && Object.keys(q.results).length);
    root.dataset.query = has ? q.label : "";
    root.dataset.queryId = String(q.id || 0);
    if (!q || !q.label) {
      note.classList.remove("amumo-query-error");
      note.textContent = model.get("query_info") && model.get("query_info").enabled
        ? "Type a question: it is encoded by the model, marked ★ in the projection, and its nearest items of every modality are listed here. Hover one to find it in the views; ≈ asks again with that item (more like this)."
        : "";
      lists.replaceChildren();
      bus.query(null, self);
      return;
    }
    note.classList.toggle("amumo-query-error", !!q.error);
    const where = `${q.label} — a ${q.modality} query`;
    note.replaceChildren(
      h("b", { text: where }),
      document.createTextNode(q.error ? ` · ${q.error}` : ` · ${q.note || "the view is not shifted"}`),
    );
    const kinds = model.get("kinds") || {};
    const media = model.get("media") || {};
    const names = items.modalities;
    const key = `${q.kind}|${q.label}|${q.modality}|${q.k}`;
    if (!previous || previous.id !== q.id) {
      const ranks = {};
      for (const [name, list] of Object.entries(q.results || {})) ranks[name] = new Map(list.map((r) => [r.pair, r.rank]));
      // the same question asked again of a changed view: compare with its last lists
      previous = { key, id: q.id, ranks, compare: previous && previous.key === key ? previous.ranks : null };
    }
    const compare = previous.compare;
    lists.replaceChildren(...Object.entries(q.results || {}).map(([name, list]) => {
      const m = names.indexOf(name);
      return h("div", { class: "amumo-query-list", "data-modality": name },
        h("div", { class: "amumo-query-head" },
          h("span", { class: "amumo-swatch", style: { background: modalityColor(m) } }),
          h("span", { text: `${name}: ${list.length} nearest` }),
          name === q.modality ? h("span", { class: "amumo-muted", text: " (same cone)" }) : h("span", { class: "amumo-muted", text: " (across the gap)" })),
        h("ol", {}, ...list.map((r) => row(r, name, m, kinds[name], media[name], compare))));
    }));
    bus.query(marker(q), self);
  };

  const mark = (pairIds) => {
    const set = new Set(pairIds);
    for (const r of rows) r.el.classList.toggle("amumo-query-linked", set.has(r.pair));
  };
  const leave = bus.subscribe(self, {
    "pair-hover": ({ pair }) => mark([items.id(pair)]),
    "cell-hover": ({ row: a, col: b }) => mark([items.id(a.pair), items.id(b.pair)]),
    "hover-clear": () => mark([]),
  });
  const offBusy = watch(model, ["busy"], () => setBusy((model.get("busy") || {}).query || ""));

  const onK = () => {
    const value = Math.max(1, Math.min(100, parseInt(k.value || "10", 10) || 10));
    model.set("query_k", value);
    model.save_changes();
  };
  k.addEventListener("change", onK);
  syncInfo();
  return {
    root,
    refresh,
    traits: ["query_result", "query_info", "query_k"],
    dispose() {
      leave();
      offBusy();
      k.removeEventListener("change", onK);
    },
  };
}
