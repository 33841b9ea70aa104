// PreviewView: cards for the hovered items (image thumbnail, caption, meta fields).
//
// The caption/label of every pair is already in the browser (one UTF-8 blob) up to the
// kernel's TEXTS_LIMIT pairs, so a card appears at once; above, the hovered pairs' texts are
// asked for and cached (texts.js). Thumbnails and the full meta row are fetched lazily from
// the kernel on first hover and cached here (as object URLs), never sent up front.

import { h } from "./util.js";
import { mediaBlock, STICKY_KINDS } from "./media_view.js";

const CACHE_LIMIT = 400;
/** Meta fields shown first on a card (amumo.data.Augmented adds these). */
const FIRST_FIELDS = ["augmentation", "level", "level_index", "base_item"];
/** Fields listed on the card; the others sit behind "N more fields". */
const SHOWN_FIELDS = 5;

function formatField(key, value) {
  if (key === "level" && typeof value === "number") return String(Math.round(value * 1000) / 1000);
  return String(value);
}

export class PreviewView {
  /**
   * @param {HTMLElement} host
   * @param {object} opts {fetchItem(pair, modality) -> Promise<{fields: object, image: Blob|null}>}
   */
  constructor(host, opts = {}) {
    this.opts = opts;
    this.root = h("div", { class: "amumo-preview-view" });
    this.body = h("div", { class: "amumo-preview-body" });
    this.root.append(this.body);
    host.append(this.root);
    this.data = null;
    this.cache = new Map();
    this.entries = [];
    this.selection = [];
    this.showPlaceholder();
  }

  dispose() {
    for (const entry of this.cache.values()) if (entry.url) URL.revokeObjectURL(entry.url);
    this.cache.clear();
  }

  /** {N, modalities, kinds: {modality: "image"|"text"|"other"}, media: {modality: bool}, texts, textField, pairIds, version, palette} */
  setData(data) {
    const changed = !this.data || this.data.version !== data.version || this.data.metaVersion !== data.metaVersion;
    this.data = data;
    if (changed) this.dispose();
    this.render();
  }

  /** Show entries [{pair, m, role}] (role: "row", "column", "point", "pair") or [] for none. */
  show(entries) {
    // Audio stays when the pointer leaves the views, so its player can be reached and played.
    if (!(entries && entries.length) && this._sticky()) return;
    this.entries = entries || [];
    this.render();
  }

  _sticky() {
    const d = this.data;
    return !!d && !this.selection.length && this.entries.some((e) => STICKY_KINDS.includes((d.kinds || {})[d.modalities[e.m]]));
  }

  setSelection(pairs) {
    this.selection = pairs || [];
    if (!this.entries.length) this.render();
  }

  showPlaceholder() {
    this.body.replaceChildren(
      h("div", { class: "amumo-preview-empty" }, h("div", { class: "amumo-preview-hint", text: "Hover a cell or a point to preview its items." })),
    );
  }

  render() {
    const d = this.data;
    if (!d) return this.showPlaceholder();
    if (!this.entries.length) {
      if (this.selection.length) return this._renderSelection();
      return this.showPlaceholder();
    }
    this.body.replaceChildren(...this.entries.map((entry) => this._card(entry)));
    this.root.dataset.pairs = this.entries.map((e) => (d.pairIds ? d.pairIds[e.pair] : e.pair)).join(",");
  }

  _renderSelection() {
    const d = this.data;
    const selection = this.selection;
    const shown = selection.slice(0, 8);
    this.root.dataset.pairs = "";
    const texts = shown.map((p) => this._text(p));
    this.body.replaceChildren(
      h("div", { class: "amumo-preview-selection" },
        h("div", { class: "amumo-card-title", text: `${selection.length.toLocaleString()} pair${selection.length === 1 ? "" : "s"} selected` }),
        h("ul", {}, ...shown.map((p, k) => h("li", {}, h("b", { text: `#${d.pairIds ? d.pairIds[p] : p} ` }), texts[k] ?? "…"))),
        selection.length > shown.length ? h("div", { class: "amumo-muted", text: `… and ${(selection.length - shown.length).toLocaleString()} more (widget.selection() in Python)` }) : null),
    );
    if (texts.includes(null)) {
      // Texts not sent up front (very many pairs): ask for these, then list them.
      d.pairTexts.fetch(shown).then(() => {
        if (this.data === d && this.selection === selection && !this.entries.length) this._renderSelection();
      }, () => {});
    }
  }

  /** Text of shown pair p, or null while the browser does not have it (texts.js). */
  _text(pair) {
    const d = this.data;
    if (d.pairTexts) return d.pairTexts.get(pair);
    return (d.texts && d.texts[pair]) || "";
  }

  _card({ pair, m, role }) {
    const d = this.data;
    const modality = d.modalities[m];
    const kind = (d.kinds && d.kinds[modality]) || "other";
    const id = d.pairIds ? d.pairIds[pair] : pair;
    const color = (d.palette && d.palette[m % d.palette.length]) || "#4c78a8";
    const roleLabel = { row: "row", column: "column", point: "hovered", pair: "paired" }[role] || "";
    const card = h("div", { class: `amumo-card amumo-card-${kind}`, "data-pair": id, "data-modality": modality });
    card.append(
      h("div", { class: "amumo-card-head" },
        h("span", { class: "amumo-swatch", style: { background: color } }),
        h("span", { class: "amumo-card-title", text: `${modality} #${id}` }),
        roleLabel ? h("span", { class: "amumo-chip", text: roleLabel }) : null),
    );
    const hasMedia = d.media && d.media[modality];
    if (kind === "image" && hasMedia) {
      const frame = h("div", { class: "amumo-thumb amumo-loading" });
      const creditLine = h("div", { class: "amumo-credit", hidden: true });
      card.append(frame, creditLine);
      this._item(pair, modality).then((entry) => {
        frame.classList.remove("amumo-loading");
        if (entry && entry.url) {
          frame.replaceChildren(h("img", { src: entry.url, alt: `${modality} ${id}` }));
        } else {
          frame.classList.add("amumo-thumb-failed");
          frame.replaceChildren(h("span", { class: "amumo-thumb-error", text: entry && entry.error ? entry.error : "no image" }));
        }
        const credit = entry && entry.credit;
        if (credit && (credit.text || credit.source)) {
          // A linked photo (e.g. MSCOCO's coco_url): its licence and where it comes from.
          const link = (label, href) => (/^https?:/i.test(href || "") ? h("a", { href, target: "_blank", rel: "noopener noreferrer", text: label }) : h("span", { text: label }));
          creditLine.replaceChildren(
            h("span", { text: "photo: " }),
            credit.text ? link(credit.text, credit.url) : h("span", { text: "licence unknown" }),
            credit.source ? h("span", { text: " · " }) : null,
            credit.source ? link("source", credit.source) : null,
          );
          creditLine.hidden = false;
        }
      });
    }
    if ((kind === "audio" || kind === "molecule") && hasMedia) card.append(mediaBlock(kind, this._item(pair, modality), { modality, id }));
    const isCaption = ["caption", "text", "captions"].includes((d.textField || "").toLowerCase());
    const textBlock = (text) => {
      if ((kind === "text" && isCaption) || (kind === "other" && text && isCaption)) {
        return h("div", { class: "amumo-caption", text: text || "(no text)" });
      }
      if (text && (kind !== "image" || d.textField)) {
        // No caption column (e.g. precomputed embeddings): show the pair's label as such.
        return h("div", { class: "amumo-caption amumo-caption-minor" }, h("span", { class: "amumo-muted", text: `${d.textField}: ` }), text);
      }
      return null;
    };
    const known = this._text(pair);
    if (known !== null) {
      const block = textBlock(known);
      if (block) card.append(block);
    } else {
      // Very many pairs: the text was not sent up front; ask for it, show it when it comes.
      const waiting = h("div", { class: "amumo-caption amumo-loading-text", text: "…" });
      card.append(waiting);
      d.pairTexts.fetch([pair]).then(([text]) => {
        const block = textBlock(text);
        if (block) waiting.replaceWith(block);
        else waiting.remove();
      }, (err) => {
        waiting.classList.add("amumo-muted");
        waiting.textContent = `text not loaded: ${err && err.message ? err.message : err}`;
      });
    }
    const fields = h("dl", { class: "amumo-fields" });
    card.append(fields);
    this._item(pair, null).then((entry) => {
      if (!entry || !entry.fields) return;
      const rows = Object.entries(entry.fields).filter(([key, value]) => key !== d.textField && key !== "pair" && value !== null && value !== "");
      // What was done to the item first (an augmentation and its level), then the rest;
      // every field is listed (the card grows; the panel scrolls past its maximum height).
      const rank = (key) => { const i = FIRST_FIELDS.indexOf(key); return i < 0 ? FIRST_FIELDS.length : i; };
      rows.sort((a, b) => rank(a[0]) - rank(b[0]));
      const pairs = (list) => list.flatMap(([key, value]) => [h("dt", { text: key }), h("dd", { text: formatField(key, value) })]);
      fields.replaceChildren(...pairs(rows.slice(0, SHOWN_FIELDS)));
      if (rows.length > SHOWN_FIELDS) {
        // The rest one click away, announced (never silently cut off by the card's height).
        const more = h("details", { class: "amumo-more-fields" },
          h("summary", { text: `${rows.length - SHOWN_FIELDS} more field${rows.length - SHOWN_FIELDS === 1 ? "" : "s"}` }),
          h("dl", { class: "amumo-fields" }, ...pairs(rows.slice(SHOWN_FIELDS))));
        fields.after(more);
      }
    });
    return card;
  }

  /** Cached fetch: pair meta (modality null) or one modality's media. */
  _item(pair, modality) {
    const key = `${pair}|${modality}`;
    if (this.cache.has(key)) return this.cache.get(key).promise;
    if (!this.opts.fetchItem) return Promise.resolve(null);
    const entry = { url: null };
    entry.promise = this.opts
      .fetchItem(pair, modality)
      .then(({ fields, image, error, credit, ...rest }) => {
        entry.fields = fields;
        entry.error = error;
        entry.credit = credit || null;
        entry.text = rest.text ?? null;
        entry.duration = rest.duration ?? null;
        entry.fullDuration = rest.fullDuration ?? null;
        if (image) entry.url = URL.createObjectURL(image);
        return entry;
      })
      .catch(() => {
        this.cache.delete(key);
        return null;
      });
    this.cache.set(key, entry);
    if (this.cache.size > CACHE_LIMIT) {
      const [oldKey, old] = this.cache.entries().next().value;
      if (old.url) URL.revokeObjectURL(old.url);
      this.cache.delete(oldKey);
    }
    return entry.promise;
  }
}
