// The hovered point's tooltip: its modality, pair id and text (asked from the kernel when
// the texts of very many pairs were not sent up front: texts.js).

import { h, placeTip } from "../util.js";
import { colorOf, shownPair } from "./data.js";

export class PointTooltip {
  constructor() {
    this.el = h("div", { class: "amumo-tooltip", hidden: true });
  }

  /**
   * Show item i of data d. A text not in the browser yet (d.pairTexts) is asked for and
   * shown if `stillHovered()` when it arrives.
   */
  show(d, i, stillHovered) {
    const m = Math.floor(i / d.N), pair = shownPair(d, i % d.N);
    const id = d.pairIds ? d.pairIds[pair] : pair;
    const known = d.pairTexts ? d.pairTexts.get(pair) : (d.texts && d.texts[pair]) || "";
    const row = h("div", { class: "amumo-tip-row", text: known || "" });
    this.el.replaceChildren(
      h("div", { class: "amumo-tip-head" }, h("span", { class: "amumo-swatch", style: { background: colorOf(d, i) } }), h("b", { text: `${d.modalities[m]} #${id}` })),
      row,
    );
    row.hidden = !known;
    if (known === null) {
      d.pairTexts.fetch([pair]).then(([value]) => {
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
