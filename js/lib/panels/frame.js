// The frame every panel shares: a title row with icon buttons, an optional control row, a body.

import { h } from "../util.js";

/** A panel: title row (title + icon buttons), optional control row, body. */
export function panel(title, cls, icons = [], controls = []) {
  const head = h("div", { class: "amumo-panel-head" }, h("span", { class: "amumo-panel-title", text: title }), h("div", { class: "amumo-toolbar amumo-icons" }, ...icons));
  const row = controls.length ? h("div", { class: "amumo-toolbar amumo-controls-row" }, ...controls) : null;
  const body = h("div", { class: "amumo-panel-body" });
  const root = h("section", { class: `amumo-panel ${cls}` }, head, row, body);
  return { root, head, body };
}

export function labelled(text, control, title = "") {
  return h("label", { class: "amumo-field", title }, h("span", { text }), control);
}

export function iconButton(text, title, onclick, cls = "") {
  return h("button", { class: `amumo-btn ${cls}`, type: "button", title, "aria-label": title, onclick, text });
}

