// The hovered point's tooltip: its modality, pair id and text (asked from the kernel when
// the texts of very many pairs were not sent up front).

import { h, placeTip } from "../util.js";
import { colorOf, shownPair } from "./data.js";

export class PointTooltip {
  constructor() {
    this.el = h("div", { class: "amumo-tooltip", hidden: true });
  }

  /**
   * Show item i of data d. `fetchText(pair)` (optional) asks for a text that is not in
   * d.texts; it is shown if `stillHovered()` when it arrives.
   */
  show(d, i, fetchText, stillHovered) {
    const m = Math.floor(i / d.N), pair = shownPair(d, i % d.N);
    const id = d.pairIds ? d.pairIds[pair] : pair;
    const text = d.texts && d.texts[pair] ? d.texts[pair] : "";
    const row = h("div", { class: "amumo-tip-row", text });
    this.el.replaceChildren(
      h("div", { class: "amumo-tip-head" }, h("span", { class: "amumo-swatch", style: { background: colorOf(d, i) } }), h("b", { text: `${d.modalities[m]} #${id}` })),
      row,
    );
    row.hidden = !text;
    if (!text && fetchText && !(d.texts && d.texts.length)) {
      // Texts of very many pairs are not sent up front: ask the kernel for this one.
      fetchText(pair).then((value) => {
        if (stillHovered() && value) {
          row.textContent = value;
          row.hidden = false;
        }
      }, () => {});
    }
    this.el.hidden = false;
  }

  /** Place it near stage position (px, py) inside a stage of W x H. */
  place(px, py, W, H) {
    placeTip(this.el, px, py, W, H);
  }

  hide() {
    this.el.hidden = true;
  }
}
