// Requests the views send to the kernel (custom messages through Rpc): a window of exact
// heatmap cells, one cell, one item (thumbnail, meta row, media), the texts of a few pairs.

import { f32, i32, u8 } from "./util.js";

export function requestWindow(rpc, extra = {}) {
  return ({ r0, r1, c0, c1 }) =>
    rpc.call({ type: "window", r0, r1, c0, c1, ...extra }).then(({ msg, buffers }) => {
      if (msg.error) throw new Error(msg.error);
      return { values: f32(buffers[0]) };
    });
}

export function requestCell(rpc, extra = {}) {
  return (r, c) =>
    rpc.call({ type: "cell", r, c, ...extra }).then(({ msg }) => {
      if (msg.error) throw new Error(msg.error);
      return msg.value;
    });
}

export function fetchItem(rpc, items) {
  return (pair, modality) =>
    rpc.call({ type: "item", pair: items.id(pair), modality }).then(({ msg, buffers }) => ({
      fields: msg.fields || null,
      error: msg.error || null,
      credit: msg.credit || null,
      text: msg.text ?? null, // molecules: the SMILES string
      duration: msg.duration ?? null, // audio: seconds
      fullDuration: msg.full_duration ?? null, // audio cut to the preview's limit
      image: buffers && buffers.length && msg.mime ? new Blob([buffers[0]], { type: msg.mime }) : null,
    }));
}

/** requestTexts(ids) -> Promise<string[]>: the texts of pair ids (see texts.js). */
export function requestTexts(rpc) {
  return (ids) =>
    rpc.call({ type: "texts", pairs: ids }).then(({ msg }) => {
      if (msg.error) throw new Error(msg.error);
      return msg.texts || [];
    });
}

/** requestViewport(window) -> Promise of the pairs in a zoomed-in window that the drawn
 * sample leaves out (the kernel's `viewport` request, widgets/_streamed.py). */
export function requestViewport(rpc) {
  return ({ x0, x1, y0, y1 }) =>
    rpc.call({ type: "viewport", x0, x1, y0, y1 }).then(({ msg, buffers }) => {
      if (msg.error) throw new Error(msg.error);
      return { pairs: i32(buffers[0]), xy: f32(buffers[1]), codes: u8(buffers[2]), inView: msg.in_view, budget: msg.budget };
    });
}
