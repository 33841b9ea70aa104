// Research panels of the Explorer: mitigation picker, retrieval of the hovered item with the
// table of failed retrievals, and the cosine calibration histograms.
//
// Retrieval asks the kernel for ONE query row against all candidates (O(N·D)) per hover,
// throttled, and drops stale replies; it asks again for the shown query when the embeddings
// change; the failures table and the histograms arrive as small
// JSON traits (`failures`, `calibration`).

import { h, fmt, setOptions, bind, throttle, svg } from "./util.js";

const METHOD_LABELS = { shift: "shift along Δ", center: "center", standardize: "standardize (I0T)" };
const METHOD_HELP = {
  shift: "Move each modality λ/2 of the gap vector toward the other, re-normalise (Liang et al. 2022)",
  center: "Subtract each modality's own mean, re-normalise",
  standardize: "Per-modality, per-dimension standardisation, re-normalise (I0T, An et al. 2024)",
};

/** Method picker (shift / center / standardize) bound to the `mitigation` trait. */
export function mitigationPicker(model) {
  const select = h("select", { class: "amumo-mitigation", "aria-label": "gap mitigation" });
  setOptions(select, (model.get("mitigations") || ["shift"]).map((m) => [m, METHOD_LABELS[m] || m]), model.get("mitigation"));
  const unbind = bind(model, "mitigation", select);
  const syncTitle = () => (select.title = METHOD_HELP[model.get("mitigation")] || "");
  syncTitle();
  model.on("change:mitigation", syncTitle);
  return {
    el: h("label", { class: "amumo-field amumo-mitigation-field" }, h("span", { text: "remedy" }), select),
    dispose() {
      unbind();
      model.off("change:mitigation", syncTitle);
    },
  };
}

function panel(title, cls, ...children) {
  const body = h("div", { class: "amumo-panel-body" }, ...children);
  const root = h("section", { class: `amumo-panel ${cls}` },
    h("div", { class: "amumo-panel-head" }, h("span", { class: "amumo-panel-title", text: title })), body);
  return { root, body };
}

function scoreBar(score, lo, hi) {
  const t = Math.max(0, Math.min(1, (score - lo) / Math.max(1e-9, hi - lo)));
  return h("span", { class: "amumo-score-bar" }, h("span", { style: { width: `${(100 * t).toFixed(1)}%` } }));
}

/**
 * Retrieval panel: for the hovered item its top-k neighbours in the other modality (scores,
 * the true partner marked, its rank) and the table of failed retrievals. Subscribes to the
 * bus's hover events (the hovered point, or a cell's row item); hovering a retrieved row
 * highlights that item, hovering a failure row hovers its pair, clicking one selects the
 * pair and the one retrieved instead. Returns {root, refresh, traits, dispose}.
 */
export function retrievalPanel(model, rpc, bus, items) {
  const query = h("div", { class: "amumo-retrieval-query", text: "Hover a point or a cell to retrieve its nearest items of the other modality." });
  const list = h("ol", { class: "amumo-retrieval-list" });
  const rank = h("div", { class: "amumo-retrieval-rank" });
  const failSummary = h("div", { class: "amumo-failures-summary" });
  const failTable = h("table", { class: "amumo-failures-table" });
  const failWrap = h("div", { class: "amumo-failures-wrap" }, failTable);
  const p = panel("Retrieval", "amumo-retrieval-panel", query, list, rank,
    h("div", { class: "amumo-subhead", text: "Failed retrievals (true pair not first)" }), failSummary, failWrap);
  const root = p.root;
  let seq = 0;
  let shown = null;
  const self = {}; // this panel as the source of the events it publishes (link/bus.js)

  const render = (msg) => {
    const rows = msg.rows || [];
    const lo = Math.min(msg.true_score, ...rows.map((r) => r.score));
    const hi = Math.max(...rows.map((r) => r.score));
    query.replaceChildren(
      h("span", { class: "amumo-chip", text: `${msg.source} #${msg.pair}` }),
      h("span", { class: "amumo-retrieval-text", text: ` ${msg.text}` }),
    );
    list.replaceChildren(...rows.map((r, i) => h("li", {
      class: `amumo-retrieval-row${r.true ? " amumo-true-pair" : ""}`,
      "data-pair": r.pair,
      title: r.true ? "the true partner" : `pair ${r.pair}`,
      onmouseenter: () => {
        const view = items.view(r.pair);
        if (view >= 0) bus.highlight([items.modalities.indexOf(msg.target) * items.N + view], self);
      },
    },
    h("span", { class: "amumo-retrieval-pos", text: `${i + 1}` }),
    h("span", { class: "amumo-retrieval-score", text: fmt(r.score, 3) }),
    scoreBar(r.score, lo - 0.02, hi),
    h("span", { class: "amumo-retrieval-text", text: `${r.true ? "✓ " : ""}${r.text}` }))));
    const ok = msg.rank === 0;
    rank.className = `amumo-retrieval-rank ${ok ? "amumo-better" : "amumo-worse"}`;
    rank.textContent = `true partner: rank ${msg.rank + 1} of ${msg.n_candidates.toLocaleString()} (cos ${fmt(msg.true_score, 3)})`;
    root.dataset.query = String(msg.pair);
    root.dataset.rank = String(msg.rank);
  };

  const ask = throttle((id, m) => {
    const mine = ++seq;
    root.dataset.pending = "true";
    rpc.call({ type: "neighbours", pair: id, modality: m, k: model.get("retrieval_k") || 5 }).then(({ msg }) => {
      if (mine !== seq) return; // a newer hover won
      root.dataset.pending = "false";
      root.classList.remove("amumo-retrieval-stale");
      if (msg.error) {
        rank.textContent = msg.error;
        return;
      }
      shown = msg;
      render(msg);
      root.dataset.answered = String(Number(root.dataset.answered || 0) + 1);
    }).catch(() => {});
  }, 80);

  // The hovered item (a cell's row item) is the query; a cleared hover keeps the last one
  // readable. Asked off the synchronous hover path of the linked views.
  const retrieve = (pair, m) => setTimeout(() => ask(items.id(pair), m), 0);
  const leave = bus.subscribe(self, {
    "pair-hover": ({ pair, m }) => retrieve(pair, m),
    "cell-hover": ({ row }) => retrieve(row.pair, row.m),
  });

  const refreshFailures = () => {
    const f = model.get("failures") || {};
    const s = f.summary;
    if (!s) {
      failSummary.textContent = "…";
      failTable.replaceChildren();
      return;
    }
    const rate = `${(100 * s.failure_rate).toFixed(1)} %`;
    const interval = s.estimate ? ` (95 % CI ${(100 * s.interval[0]).toFixed(1)}–${(100 * s.interval[1]).toFixed(1)} %, ${s.n_queries.toLocaleString()} sampled queries)` : "";
    failSummary.textContent = `${s.source} → ${s.target}: ${s.n_failed.toLocaleString()} of ${s.n_queries.toLocaleString()} queries fail (${rate})${interval}; worst first.`;
    failTable.replaceChildren(
      h("thead", {}, h("tr", {}, h("th", { text: "pair" }), h("th", { text: "rank" }), h("th", { text: "cos" }), h("th", { text: "retrieved instead" }))),
      h("tbody", {}, ...(f.rows || []).map((r) => h("tr", {
        class: "amumo-failure-row",
        "data-pair": r.pair,
        title: `${r.text}\n→ retrieved pair ${r.top_pair} (cos ${fmt(r.top_score, 3)}): ${r.top_text}`,
        onmouseenter: () => {
          const view = items.view(r.pair);
          if (view >= 0) bus.pairHover({ pair: view, m: 0 }); // retrieved here too
        },
        onclick: () => {
          const a = items.view(r.pair), b = items.view(r.top_pair);
          bus.select([a, b].filter((x) => x >= 0).sort((x, y) => x - y));
        },
      },
      h("td", { class: "amumo-failure-text", text: `#${r.pair} ${r.text}` }),
      h("td", { text: String(r.rank + 1) }),
      h("td", { text: fmt(r.true_score, 3) }),
      h("td", { class: "amumo-failure-text", text: `#${r.top_pair} ${r.top_text}` })))));
    root.dataset.failures = String((f.rows || []).length);
  };

  return {
    root,
    // New failures / calibration come with new embeddings (close the gap, λ, a remedy, a
    // filter, another model): the card's query is asked again, so its neighbours and rank
    // are those of the embeddings shown (greyed until the answer arrives).
    refresh() {
      refreshFailures();
      if (!shown) return;
      if (items.view(shown.pair) < 0) {
        shown = null;
        list.replaceChildren();
        rank.textContent = "";
        return;
      }
      const m = items.modalities.indexOf(shown.source);
      if (m < 0) return;
      root.classList.add("amumo-retrieval-stale");
      ask(shown.pair, m);
    },
    traits: ["failures", "calibration"],
    dispose() {
      leave();
    },
  };
}

const SERIES_COLORS = { matched: "#d62728", unmatched: "#6b7280" };
const WITHIN_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"];

/** Calibration panel: density of matched, unmatched and within-modality cosines (SVG). */
export function calibrationPanel(model) {
  const plot = h("div", { class: "amumo-calibration-plot" });
  const legend = h("div", { class: "amumo-calibration-legend" });
  const note = h("div", { class: "amumo-calibration-note" });
  const p = panel("Calibration", "amumo-calibration-panel", plot, legend, note);
  const W = 300, H = 150, L = 30, B = 22, T = 6, R = 14; // R: room for half the last label ("1.0")

  const refresh = () => {
    const c = model.get("calibration") || {};
    if (!c.edges) {
      plot.replaceChildren();
      note.textContent = "…";
      return;
    }
    const edges = c.edges;
    const lo = edges[0], hi = edges[edges.length - 1];
    const names = Object.keys(c.series);
    const ymax = Math.max(...names.flatMap((n) => c.series[n]));
    const sx = (v) => L + ((v - lo) / (hi - lo)) * (W - L - R);
    const sy = (v) => H - B - (v / ymax) * (H - B - T);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "amumo-calibration-svg", role: "img", "aria-label": "cosine histograms" });
    root.append(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#9ca3af" }));
    // Ticks every 0.2 from integer steps (no drift from adding 0.2 again and again).
    for (let k = Math.ceil(lo * 5 - 1e-9); k <= Math.floor(hi * 5 + 1e-9); k++) {
      const t = k / 5;
      const x = sx(t);
      root.append(svg("line", { x1: x, x2: x, y1: H - B, y2: H - B + 3, stroke: "#9ca3af" }));
      const label = svg("text", { x, y: H - 8, "text-anchor": "middle", class: "amumo-axis-text", "data-tick": fmt(t, 1) });
      label.textContent = fmt(t, 1);
      root.append(label);
    }
    const colour = {};
    let w = 0;
    for (const name of names) colour[name] = SERIES_COLORS[name] || WITHIN_COLORS[w++ % WITHIN_COLORS.length];
    for (const name of names) {
      const values = c.series[name];
      let d = `M ${sx(edges[0])} ${sy(0)}`;
      values.forEach((v, i) => {
        d += ` L ${sx(edges[i])} ${sy(v)} L ${sx(edges[i + 1])} ${sy(v)}`;
      });
      d += ` L ${sx(hi)} ${sy(0)}`;
      root.append(svg("path", { d, fill: colour[name], "fill-opacity": name === "matched" ? 0.18 : 0.08, stroke: colour[name], "stroke-width": name === "matched" ? 1.8 : 1.2, "data-series": name }));
      const mx = sx(c.means[name]);
      root.append(svg("line", { x1: mx, x2: mx, y1: T, y2: H - B, stroke: colour[name], "stroke-dasharray": "3 3", "stroke-width": 1 }));
    }
    const yl = svg("text", { x: 4, y: T + 8, class: "amumo-axis-text" });
    yl.textContent = "density";
    root.append(yl);
    plot.replaceChildren(root);
    legend.replaceChildren(...names.map((n) => h("span", { class: "amumo-legend-item" },
      h("span", { class: "amumo-legend-swatch", style: { background: colour[n] } }),
      `${n.replace("within:", "within ")} ${fmt(c.means[n], 2)}`)));
    note.textContent = c.note || ""; // written from these numbers by amumo.analysis.calibration
    p.root.dataset.auc = String(c.auc);
  };
  return { root: p.root, refresh, traits: ["calibration"], dispose() {} };
}
