// Small helpers shared by every amumo view: typed arrays from traits, DOM, timing, formatting.

/** A traitlets.Bytes value (DataView / ArrayBuffer / null) as a typed array view (no copy). */
export function typed(value, Type) {
  if (value == null) return new Type(0);
  if (value instanceof DataView) {
    return new Type(value.buffer, value.byteOffset, Math.floor(value.byteLength / Type.BYTES_PER_ELEMENT));
  }
  if (value instanceof ArrayBuffer) return new Type(value);
  if (ArrayBuffer.isView(value)) {
    return new Type(value.buffer, value.byteOffset, Math.floor(value.byteLength / Type.BYTES_PER_ELEMENT));
  }
  return new Type(0);
}

export const f32 = (v) => typed(v, Float32Array);
export const u8 = (v) => typed(v, Uint8Array);
export const i32 = (v) => typed(v, Int32Array);

/** Decode a UTF-8 blob of records separated by U+001E into strings. */
export function decodeTexts(value) {
  const bytes = u8(value);
  if (!bytes.length) return [];
  return new TextDecoder("utf-8").decode(bytes).split("\u001e");
}

/** Create an element: h("div", {class: "x", title: "y"}, child, "text"). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "style" && typeof value === "object") Object.assign(node.style, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Create an SVG element with attributes (null / undefined ones left out), appended to `parent` if given. */
export function svg(tag, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

/** Trailing debounce. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/** Throttle with a trailing call: at most one call per `ms`, the last arguments always win. */
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  let pending = null;
  return (...args) => {
    const now = performance.now();
    pending = args;
    if (now - last >= ms) {
      last = now;
      clearTimeout(timer);
      timer = null;
      fn(...pending);
    } else if (!timer) {
      timer = setTimeout(() => {
        last = performance.now();
        timer = null;
        fn(...pending);
      }, ms - (now - last));
    }
  };
}

/** Format a number with `digits` decimals, using a real minus sign; a value that rounds to
 * zero has none ("0.00", never "−0.00": a sign that is not there). */
export function fmt(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const text = Number(value).toFixed(digits);
  if (!text.startsWith("-")) return text;
  return /^-[0.]+$/.test(text) ? text.slice(1) : "\u2212" + text.slice(1);
}

/** "Nice" tick values covering [lo, hi] with about `count` ticks. */
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const steps = [1, 2, 2.5, 5, 10];
  let step = power;
  for (const s of steps) {
    if (raw <= s * power) {
      step = s * power;
      break;
    }
  }
  const ticks = [];
  const start = Math.ceil(lo / step - 1e-9) * step;
  for (let v = start; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

/** Decimals needed to print ticks with a given step. */
export function tickDigits(ticks) {
  if (ticks.length < 2) return 2;
  const step = Math.abs(ticks[1] - ticks[0]);
  return Math.max(0, Math.min(4, -Math.floor(Math.log10(step) + 1e-9) + (step / Math.pow(10, Math.floor(Math.log10(step))) === 2.5 ? 1 : 0)));
}

/** Size a canvas for the device pixel ratio; returns its 2-D context scaled to CSS pixels. */
export function sizeCanvas(canvas, width, height) {
  const ratio = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  const w = Math.max(1, Math.round(width * ratio));
  const hgt = Math.max(1, Math.round(height * ratio));
  if (canvas.width !== w || canvas.height !== hgt) {
    canvas.width = w;
    canvas.height = hgt;
  }
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
}

/** Request/response over anywidget custom messages: `await rpc.call({type: "window", ...})`. */
export class Rpc {
  constructor(model) {
    this.model = model;
    this.next = 1;
    // Ids unique per view: every view of a model hears every reply.
    this.prefix = Math.random().toString(36).slice(2, 10);
    this.pending = new Map();
    this.listener = (msg, buffers) => {
      if (!msg || msg.type !== "reply" || !this.pending.has(msg.id)) return;
      const { resolve } = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      resolve({ msg, buffers: buffers || [] });
    };
    model.on("msg:custom", this.listener);
  }
  call(content, timeoutMs = 30000) {
    const id = `${this.prefix}-${this.next++}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.model.send({ ...content, id });
      setTimeout(() => {
        if (this.pending.has(id)) {
          this.pending.delete(id);
          reject(new Error("no reply from the kernel"));
        }
      }, timeoutMs);
    });
  }
  dispose() {
    this.model.off("msg:custom", this.listener);
    this.pending.clear();
  }
}

/** Bind a <select>/<input> to a model trait (two-way). Returns an unbind function. */
export function bind(model, name, input, { kind = "value", parse = (v) => v, format = (v) => v, event = "change" } = {}) {
  const toView = () => {
    const value = model.get(name);
    if (kind === "checked") input.checked = !!value;
    else input.value = format(value);
  };
  const toModel = () => {
    const value = kind === "checked" ? input.checked : parse(input.value);
    model.set(name, value);
    model.save_changes();
  };
  toView();
  input.addEventListener(event, toModel);
  model.on(`change:${name}`, toView);
  return () => {
    input.removeEventListener(event, toModel);
    model.off(`change:${name}`, toView);
  };
}

/** Call `fn` whenever one of the model's traits `names` changes; returns the function that stops. */
export function watch(model, names, fn) {
  for (const name of names) model.on(`change:${name}`, fn);
  return () => names.forEach((name) => model.off(`change:${name}`, fn));
}

/** Fill a <select> with options [[value, label], ...]. */
export function setOptions(select, options, value) {
  select.replaceChildren(...options.map(([v, label]) => h("option", { value: v, text: label })));
  if (value !== undefined) select.value = value;
}

/** Inverse of a permutation-like int array: inverse[values[i]] = i. */
export function inverse(values, size) {
  const out = new Int32Array(size).fill(-1);
  for (let i = 0; i < values.length; i++) if (values[i] >= 0 && values[i] < size) out[values[i]] = i;
  return out;
}

/** Resolve a CSS colour "#rrggbb" to [r, g, b]. */
export function rgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** Current time in ms (performance clock). */
export const now = () => performance.now();

/**
 * Place a tooltip near (px, py) inside a stage of size W x H without reading layout
 * (no forced reflow on hover): it flips to the left / above past the middle.
 */
export function placeTip(tip, px, py, W, H, gap = 14) {
  const style = tip.style;
  if (px > W * 0.55) {
    style.left = "";
    style.right = `${Math.max(0, W - px + gap)}px`;
  } else {
    style.right = "";
    style.left = `${px + gap}px`;
  }
  if (py > H * 0.6) {
    style.top = "";
    style.bottom = `${Math.max(0, H - py + gap)}px`;
  } else {
    style.bottom = "";
    style.top = `${py + gap}px`;
  }
}
