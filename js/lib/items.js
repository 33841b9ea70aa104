// Pair-level data shared by every view of one widget: modalities, pair count, pair ids
// (view index <-> id), texts. Recomputed when the item traits change (see panels/connect.js).

import { i32, decodeTexts, inverse } from "./util.js";
import { PairTexts } from "./texts.js";

/** Pair/text data common to all views of one model (recomputed when the traits change). */
export class Items {
  constructor(model) {
    this.model = model;
    // Each pair's text: from `texts`, or asked from the kernel above its TEXTS_LIMIT (the
    // request is set by mount: the kernel's, or an exported page's).
    this.pairTexts = new PairTexts(this);
    this.refresh();
  }
  refresh() {
    const m = this.model;
    this.modalities = m.get("modalities") || [];
    this.N = m.get("n_pairs") || 0;
    const ids = i32(m.get("pair_ids"));
    this.pairIds = ids.length === this.N && this.N > 0 ? ids : null;
    this.maxId = this.pairIds ? this.pairIds.reduce((a, b) => Math.max(a, b), 0) + 1 : this.N;
    this.toView = this.pairIds ? inverse(this.pairIds, this.maxId) : null;
    this.texts = decodeTexts(m.get("texts"));
    this.textField = m.get("text_field") || "";
    const version = m.get("data_version") || 0;
    if (version !== this.version) this.pairTexts.reset();
    this.version = version;
  }
  id(pair) {
    return this.pairIds ? this.pairIds[pair] : pair;
  }
  view(id) {
    if (id === null || id === undefined || id < 0) return -1;
    if (!this.toView) return id < this.N ? id : -1;
    return id < this.toView.length ? this.toView[id] : -1;
  }
  itemsOfPair(pair) {
    return this.modalities.map((_, m) => m * this.N + pair);
  }
}
