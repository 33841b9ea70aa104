// Preview blocks for non-image items: audio (an <audio controls> element playing WAV bytes
// fetched lazily from the kernel) and molecules (SMILES text, plus a drawing when the
// kernel has RDKit). Used by PreviewView; kept apart so the preview stays small.

import { h } from "./util.js";

/** Kinds whose previews stay on screen when the pointer leaves the views (so they can be played). */
export const STICKY_KINDS = ["audio"];

/**
 * A block for one audio or molecule item. `entryPromise` resolves to the preview cache
 * entry {url, text, duration, error} (see PreviewView._item).
 */
export function mediaBlock(kind, entryPromise, { modality, id }) {
  const frame = h("div", { class: `amumo-media amumo-media-${kind} amumo-loading` });
  entryPromise.then((entry) => {
    frame.classList.remove("amumo-loading");
    if (!entry || entry.error || (kind === "audio" && !entry.url)) {
      frame.replaceChildren(h("span", { class: "amumo-thumb-error", text: (entry && entry.error) || `no ${kind}` }));
      return;
    }
    if (kind === "audio") {
      const audio = h("audio", { controls: true, preload: "auto", src: entry.url, "aria-label": `${modality} ${id}`, "data-pair": id });
      let seconds = typeof entry.duration === "number" ? `${entry.duration.toFixed(2)} s` : "";
      if (typeof entry.fullDuration === "number") seconds = `first ${entry.duration.toFixed(0)} s of ${entry.fullDuration.toFixed(1)} s`;
      frame.replaceChildren(...[audio, seconds ? h("span", { class: "amumo-muted amumo-media-duration", text: seconds }) : null].filter(Boolean));
      return;
    }
    // molecule: SMILES as text (selectable, monospace) and the drawing if the kernel sent one
    const drawing = entry.url ? h("img", { class: "amumo-molecule-drawing", src: entry.url, alt: `${modality} ${id}` }) : null;
    const smiles = h("code", { class: "amumo-smiles", title: "SMILES", text: entry.text || "" });
    frame.replaceChildren(...[drawing, smiles].filter(Boolean));
  });
  return frame;
}
