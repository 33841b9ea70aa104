// More than two modalities: the picker of the pair (a, b) the Explorer's metrics and gap
// controls act on (trait `gap_pair`), and the M x M gap matrix table (also the GapMatrix
// widget). Clicking a matrix cell picks that pair.

import { h, fmt } from "./util.js";

/** Unordered pairs of modality names, in block order. */
export function modalityPairs(modalities) {
  const out = [];
  for (let a = 0; a < modalities.length; a++) for (let b = a + 1; b < modalities.length; b++) out.push([modalities[a], modalities[b]]);
  return out;
}

/** The pair in use: `gap_pair` when valid for the shown modalities, else the first two. */
export function currentPair(model) {
  const mods = model.get("modalities") || [];
  const pair = model.get("gap_pair") || [];
  if (pair.length === 2 && mods.includes(pair[0]) && mods.includes(pair[1]) && pair[0] !== pair[1]) return pair;
  return mods.slice(0, 2);
}

function setPair(model, pair) {
  model.set("gap_pair", pair);
  model.save_changes();
}

/** <select> of modality pairs bound to `gap_pair`; hidden with two modalities. Returns {el, dispose}. */
export function pairPicker(model) {
  const select = h("select", { class: "amumo-gap-pair", "aria-label": "modality pair" });
  const el = h("label", { class: "amumo-field amumo-gap-pair-field", title: "The two modalities the metrics, λ and close-the-gap act on" }, h("span", { text: "pair" }), select);
  const sync = () => {
    const mods = model.get("modalities") || [];
    el.hidden = mods.length < 3;
    const [a, b] = currentPair(model);
    select.replaceChildren(...modalityPairs(mods).map(([x, y]) => h("option", { value: `${x}\u0000${y}`, text: `${x}–${y}` })));
    const match = modalityPairs(mods).find(([x, y]) => (x === a && y === b) || (x === b && y === a));
    if (match) select.value = `${match[0]}\u0000${match[1]}`;
  };
  select.addEventListener("change", () => setPair(model, select.value.split("\u0000")));
  model.on("change:modalities", sync);
  model.on("change:gap_pair", sync);
  sync();
  return { el, dispose: () => { model.off("change:modalities", sync); model.off("change:gap_pair", sync); } };
}

/**
 * Colour of a gap value between the smallest (`lo`) and largest (`hi`) off-diagonal value
 * shown: light to dark blue over that range, so close values (0.778 vs 0.851) still look
 * different; the diagonal (no gap) is left white. Equal values get the middle shade.
 */
function shade(value, lo, hi) {
  const t = hi - lo > 1e-9 ? Math.max(0, Math.min(1, (value - lo) / (hi - lo))) : 0.5;
  const light = [219, 234, 254], dark = [30, 64, 175];
  const c = light.map((l, i) => Math.round(l + (dark[i] - l) * t));
  return { background: `rgb(${c.join(",")})`, color: t > 0.5 ? "#ffffff" : "#111827" };
}

/**
 * An M x M table of gap values. `matrix` {modalities, before, now?}; `pair` highlights a cell
 * pair; `onPick([a, b])` makes cells clickable. Shows "before → now" when `now` differs.
 */
export function gapMatrixTable(matrix, { pair = null, onPick = null, digits = 3, caption = "" } = {}) {
  const mods = matrix.modalities || [];
  const before = matrix.before || [];
  const now = matrix.now || before;
  let lo = Infinity, hi = -Infinity;
  for (const rows of [before, now]) {
    rows.forEach((row, i) => row.forEach((v, j) => {
      if (i !== j) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }));
  }
  const changed = now !== before && now.some((row, i) => row.some((v, j) => Math.abs(v - before[i][j]) > 5e-4));
  const head = h("tr", {}, h("th", { text: "" }), ...mods.map((m) => h("th", { text: m })));
  const rows = mods.map((a, i) => h("tr", {}, h("th", { text: a }), ...mods.map((b, j) => {
    const v = now[i][j];
    const picked = pair && ((pair[0] === a && pair[1] === b) || (pair[0] === b && pair[1] === a));
    const text = i === j ? "·" : changed ? `${fmt(before[i][j], digits)} → ${fmt(v, digits)}` : fmt(v, digits);
    const cell = h("td", {
      class: `amumo-gap-cell${picked ? " amumo-gap-cell-picked" : ""}${onPick && i !== j ? " amumo-gap-cell-pick" : ""}`,
      "data-a": a, "data-b": b, "data-value": v,
      title: i === j ? a : `${a}–${b}: ${fmt(v, 4)}${onPick ? " (click: act on this pair)" : ""}`,
      style: i === j ? {} : shade(v, lo, hi),
      text,
    });
    if (onPick && i !== j) cell.addEventListener("click", () => onPick([a, b]));
    return cell;
  })));
  const range = Number.isFinite(lo) ? `shading: ${fmt(lo, digits)} (lightest) to ${fmt(hi, digits)} (darkest)` : "";
  return h("table", { class: "amumo-gap-matrix", title: range, "data-range": range }, caption ? h("caption", { text: caption }) : null, h("thead", {}, head), h("tbody", {}, ...rows));
}

/** Gap-matrix block of the Explorer's metrics panel (empty with two modalities). */
export function metricsGapMatrix(model) {
  const m = model.get("metrics") || {};
  if (!m.gap_matrix) return null;
  return gapMatrixTable(m.gap_matrix, { pair: m.pair, onPick: (pair) => setPair(model, pair), caption: "gap distance, every pair (click a cell to pick it)" });
}
