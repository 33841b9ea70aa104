// Small pictures of items outside the preview: the portrait of each image cluster (its
// medoid's thumbnail, trait `cluster_portraits`) in the heatmap's cluster key and the scatter
// legend, a play button for an audio cluster, and the thumbnails of a query's image
// neighbours. Fetched lazily through the same `item` requests as the preview cards (or the
// exported page's thumbnails), when the element first comes into view, never all up front;
// one cache per widget (keyed by its Items) so the key and the legend share the pictures.

import { h } from "./util.js";

/** Fetched items kept per widget (object URLs revoked when dropped). */
const CACHE_LIMIT = 200;
const caches = new WeakMap();

class MediaCache {
  constructor(items, fetchItem) {
    this.items = items;
    this.fetchItem = fetchItem;
    this.entries = new Map();
  }

  /** Promise of {url, error} for pair id `id` of `modality` (cached). */
  get(id, modality) {
    const key = `${id}|${modality}`;
    if (this.entries.has(key)) return this.entries.get(key).promise;
    const entry = { url: null, error: null };
    const pair = this.items.view(id);
    entry.promise = (pair < 0 ? Promise.resolve({ error: `pair ${id} is not shown` }) : this.fetchItem(pair, modality))
      .then(({ image, error }) => {
        entry.error = error || (image ? null : "nothing to show");
        if (image) entry.url = URL.createObjectURL(image);
        return entry;
      }, (err) => {
        this.entries.delete(key);
        return { url: null, error: String(err && err.message ? err.message : err) };
      });
    this.entries.set(key, entry);
    if (this.entries.size > CACHE_LIMIT) {
      const [oldKey, old] = this.entries.entries().next().value;
      if (old.url) URL.revokeObjectURL(old.url);
      this.entries.delete(oldKey);
    }
    return entry.promise;
  }
}

/**
 * The media cache of one widget. `fetchItem(viewPair, modality)` is the preview's fetch
 * (requests.js fetchItem or offline.js staticFetchItem); `items` converts pair ids.
 */
export function mediaCache(items, fetchItem) {
  let cache = caches.get(items);
  if (!cache) {
    cache = new MediaCache(items, fetchItem);
    caches.set(items, cache);
  }
  return cache;
}

/** Run `start` once `el` is in view (at once where IntersectionObserver is missing). */
function whenVisible(el, start) {
  if (typeof IntersectionObserver === "undefined") {
    start();
    return;
  }
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) {
      observer.disconnect();
      start();
    }
  });
  observer.observe(el);
}

/**
 * A portrait element for `entry` {pair, modality, kind}: an image thumbnail (`size` CSS
 * pixels) loaded when it comes into view, or a play button for audio (fetched on the first
 * click). Returns null for an empty entry. A picture that cannot be loaded leaves an empty
 * frame with the reason as its tooltip (never a broken-image icon).
 */
export function portraitElement(entry, cache, { size = 36, label = "" } = {}) {
  if (!entry || entry.pair === undefined || entry.pair === null || !cache) return null;
  const title = label ? `${label}: ${entry.modality} #${entry.pair}` : `${entry.modality} #${entry.pair}`;
  if (entry.kind === "audio") return playButton(entry, cache, title);
  const frame = h("span", {
    class: "amumo-portrait amumo-loading",
    title,
    "data-pair": entry.pair,
    style: { width: `${size}px`, height: `${size}px` },
  });
  whenVisible(frame, () => {
    cache.get(entry.pair, entry.modality).then((got) => {
      frame.classList.remove("amumo-loading");
      if (got && got.url) {
        frame.replaceChildren(h("img", { src: got.url, alt: title }));
        frame.dataset.loaded = "true";
      } else {
        frame.classList.add("amumo-portrait-failed");
        frame.title = `${title} (${(got && got.error) || "not loaded"})`;
        frame.dataset.loaded = "false";
      }
    });
  });
  return frame;
}

/** A round play / pause button for an audio item (the clip is fetched on the first click). */
function playButton(entry, cache, title) {
  const button = h("button", {
    class: "amumo-portrait-play",
    type: "button",
    title: `play ${title}`,
    "aria-label": `play ${title}`,
    "data-pair": entry.pair,
    text: "▶",
  });
  let audio = null;
  const show = () => {
    const playing = audio && !audio.paused;
    button.textContent = playing ? "❚❚" : "▶";
    button.title = `${playing ? "pause" : "play"} ${title}`;
  };
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    if (audio) {
      if (audio.paused) audio.play().catch(() => {});
      else audio.pause();
      return;
    }
    button.classList.add("amumo-loading");
    cache.get(entry.pair, entry.modality).then((got) => {
      button.classList.remove("amumo-loading");
      if (!got || !got.url) {
        button.disabled = true;
        button.title = `${title}: ${(got && got.error) || "no sound"}`;
        return;
      }
      audio = new Audio(got.url);
      for (const type of ["play", "pause", "ended"]) audio.addEventListener(type, show);
      audio.play().catch(() => {});
    });
  });
  return button;
}
