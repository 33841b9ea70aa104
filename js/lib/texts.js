// The text (caption or label) of each shown pair, for tooltips, preview cards and lists.
//
// Up to the kernel's TEXTS_LIMIT pairs, every text arrives with the `texts` trait and is
// read from there. Above it (a million captions would be ~50 MB) the views ask for the few
// texts they show (the hovered row and column, a listed selection): requests of the same
// task are batched into one {type: "texts", pairs: [ids]} message, and the replies are
// cached here (at most CACHE_LIMIT texts, the oldest dropped first), never the whole column.

/** Texts kept in the browser when they were not all sent. */
const CACHE_LIMIT = 5000;
/** Most pairs per request (the kernel's TEXTS_PER_REQUEST). */
const PER_REQUEST = 256;

export class PairTexts {
  /**
   * @param {Items} items the widget's pairs (texts trait, pair ids)
   * @param {function(number[]): Promise<string[]>} request asks for the texts of pair ids
   *   (null: nothing to ask, e.g. before the widget is mounted)
   */
  constructor(items, request = null) {
    this.items = items;
    this.request = request;
    this.cache = new Map(); // pair id -> text
    this.inflight = new Map(); // pair id -> Promise<string>
    this.batch = [];
    this.epoch = 0;
  }

  /** Forget what was fetched (the shown pairs changed: their ids may mean other items). */
  reset() {
    this.epoch += 1;
    this.cache.clear();
    this.inflight.clear();
  }

  /** True when every shown pair's text came with the traits. */
  get complete() {
    return this.items.texts.length === this.items.N;
  }

  /** Text of shown pair `pair`, or null while it is not known in the browser (see fetch). */
  get(pair) {
    const items = this.items;
    if (!items.textField) return ""; // no text column: nothing to ask for
    if (this.complete) return items.texts[pair] ?? "";
    const id = items.id(pair);
    return this.cache.has(id) ? this.cache.get(id) : null;
  }

  /** Promise of the texts of shown pairs `pairs` (same order), asked for only where unknown. */
  fetch(pairs) {
    return Promise.all(pairs.map((pair) => this._one(pair)));
  }

  _one(pair) {
    const known = this.get(pair);
    if (known !== null) return Promise.resolve(known);
    if (!this.request) return Promise.resolve("");
    const id = this.items.id(pair);
    if (this.inflight.has(id)) return this.inflight.get(id);
    const promise = new Promise((resolve, reject) => this.batch.push({ id, resolve, reject }));
    this.inflight.set(id, promise);
    if (this.batch.length === 1) queueMicrotask(() => this._send());
    return promise;
  }

  /** One request per PER_REQUEST ids asked for in this task. */
  _send() {
    const batch = this.batch;
    this.batch = [];
    const epoch = this.epoch;
    for (let k = 0; k < batch.length; k += PER_REQUEST) {
      const part = batch.slice(k, k + PER_REQUEST);
      this.request(part.map((b) => b.id)).then((texts) => {
        part.forEach((b, j) => {
          const text = texts[j] ?? "";
          if (epoch === this.epoch) {
            this._remember(b.id, text);
            this.inflight.delete(b.id);
          }
          b.resolve(text);
        });
      }, (err) => {
        part.forEach((b) => {
          if (epoch === this.epoch) this.inflight.delete(b.id);
          b.reject(err);
        });
      });
    }
  }

  _remember(id, text) {
    this.cache.set(id, text);
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value);
  }
}
