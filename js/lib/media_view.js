// Preview blocks for non-image items: audio (a small player around an <audio> element
// playing WAV bytes fetched lazily from the kernel) and molecules (SMILES text, plus a
// drawing when the kernel has RDKit). Used by PreviewView; kept apart so the preview stays
// small.
//
// The player is amumo's own, not the browser's controls: Chromium's read "0:00 / 0:00"
// until a clip was played (and for any clip under a second, like the tour's 0.8 s tones),
// while the kernel already told the clip's length. Ours shows "0.00 / 0.80 s" at once.

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
      const cut = typeof entry.fullDuration === "number" && typeof entry.duration === "number"
        ? h("span", { class: "amumo-muted amumo-media-duration", text: `first ${entry.duration.toFixed(0)} s of ${entry.fullDuration.toFixed(1)} s` })
        : null;
      frame.replaceChildren(...[audioPlayer(entry.url, entry.duration, `${modality} ${id}`, id), cut].filter(Boolean));
      return;
    }
    // molecule: SMILES as text (selectable, monospace) and the drawing if the kernel sent one
    const drawing = entry.url ? h("img", { class: "amumo-molecule-drawing", src: entry.url, alt: `${modality} ${id}` }) : null;
    const smiles = h("code", { class: "amumo-smiles", title: "SMILES", text: entry.text || "" });
    frame.replaceChildren(...[drawing, smiles].filter(Boolean));
  });
  return frame;
}

/** "m:ss" from a minute on, else seconds with 2 decimals (1 from ten seconds on). */
export function clock(seconds) {
  const t = Math.max(0, Number(seconds) || 0);
  if (t >= 60) {
    const m = Math.floor(t / 60), rest = Math.floor(t - 60 * m);
    return `${m}:${String(rest).padStart(2, "0")}`;
  }
  return t.toFixed(t >= 10 ? 1 : 2);
}

/**
 * A player: play / pause, a position slider, "position / length" (the length known from
 * the kernel's `duration` before the clip loads, then the clip's own). The <audio>
 * element has no controls of its own (class amumo-audio, data-pair = id).
 */
function audioPlayer(url, duration, label, id) {
  const audio = h("audio", { class: "amumo-audio", preload: "auto", src: url, "aria-label": label, "data-pair": id });
  const button = h("button", { class: "amumo-play", type: "button", "aria-label": `play ${label}`, title: "play", text: "▶" });
  const seek = h("input", { class: "amumo-seek", type: "range", min: 0, step: 0.01, value: 0, "aria-label": `position in ${label}` });
  const time = h("span", { class: "amumo-time" });
  const length = () => (Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : Number(duration) || 0);
  const unit = () => (length() >= 60 ? "" : " s");
  const show = () => {
    seek.max = String(length());
    seek.value = String(audio.currentTime);
    time.textContent = `${clock(audio.currentTime)} / ${clock(length())}${unit()}`;
  };
  let frame = 0;
  const follow = () => {
    show();
    if (!audio.paused) frame = requestAnimationFrame(follow);
  };
  const playing = () => {
    button.textContent = audio.paused ? "▶" : "❚❚";
    button.title = audio.paused ? "play" : "pause";
    button.setAttribute("aria-label", `${audio.paused ? "play" : "pause"} ${label}`);
    cancelAnimationFrame(frame);
    follow();
  };
  button.addEventListener("click", () => (audio.paused ? audio.play().catch(() => {}) : audio.pause()));
  seek.addEventListener("input", () => {
    audio.currentTime = Number(seek.value);
    show();
  });
  for (const type of ["play", "pause", "ended"]) audio.addEventListener(type, playing);
  for (const type of ["loadedmetadata", "durationchange", "seeked"]) audio.addEventListener(type, show);
  show();
  return h("div", { class: "amumo-player" }, button, seek, time, audio);
}
