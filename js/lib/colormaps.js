// Colour maps as 256-entry RGBA lookup tables, interpolated from evenly spaced stops.
// Stops sample the perceptually uniform maps of matplotlib (viridis, magma, cividis;
// van der Walt & Smith 2015, Nuñez et al. 2018) and ColorBrewer's RdBu (diverging).

const STOPS = {
  viridis: ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70", "#7ad151", "#bddf26", "#fde725"],
  magma: ["#000004", "#140e36", "#3b0f70", "#641a80", "#8c2981", "#b73779", "#de4968", "#f7705c", "#fe9f6d", "#fecf92", "#fcfdbf"],
  cividis: ["#00224e", "#123570", "#3b496c", "#575d6d", "#707173", "#8a8779", "#a69d75", "#c4b56c", "#e4cf5b", "#f6e15f", "#fee838"],
  rdbu: ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f"],
  greys: ["#ffffff", "#f0f0f0", "#d9d9d9", "#bdbdbd", "#969696", "#737373", "#525252", "#3d3d3d", "#252525", "#131313", "#000000"],
};

export const COLORMAPS = Object.keys(STOPS);
const cache = new Map();

/** RGBA lookup table (Uint8ClampedArray of 256*4) for a named colour map. */
export function lut(name) {
  const key = STOPS[name] ? name : "viridis";
  if (cache.has(key)) return cache.get(key);
  const stops = STOPS[key].map((hex) => {
    const v = parseInt(hex.slice(1), 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  });
  const table = new Uint8ClampedArray(256 * 4);
  const last = stops.length - 1;
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * last;
    const k = Math.min(last - 1, Math.floor(t));
    const f = t - k;
    for (let c = 0; c < 3; c++) table[i * 4 + c] = Math.round(stops[k][c] + (stops[k + 1][c] - stops[k][c]) * f);
    table[i * 4 + 3] = 255;
  }
  cache.set(key, table);
  return table;
}

/** CSS colour of a value in [0, 1] under a colour map. */
export function cssColor(name, t) {
  const table = lut(name);
  const i = Math.max(0, Math.min(255, Math.round(t * 255))) * 4;
  return `rgb(${table[i]},${table[i + 1]},${table[i + 2]})`;
}

/** Paint quantised codes (0..255) into an ImageData through a colour map. */
export function paintCodes(codes, width, height, name) {
  const table = lut(name);
  const image = new ImageData(width, height);
  const data = image.data;
  const table32 = new Uint32Array(table.buffer);
  const out32 = new Uint32Array(data.buffer);
  const n = Math.min(codes.length, width * height);
  for (let i = 0; i < n; i++) out32[i] = table32[codes[i]];
  return image;
}

/** Paint float values into an ImageData with a linear scale [vmin, vmax]. */
export function paintValues(values, width, height, name, vmin, vmax) {
  const table32 = new Uint32Array(lut(name).buffer);
  const image = new ImageData(width, height);
  const out32 = new Uint32Array(image.data.buffer);
  const scale = vmax > vmin ? 255 / (vmax - vmin) : 0;
  const n = Math.min(values.length, width * height);
  for (let i = 0; i < n; i++) {
    let q = Math.round((values[i] - vmin) * scale);
    q = q < 0 ? 0 : q > 255 ? 255 : q;
    out32[i] = table32[q];
  }
  return image;
}
