// Tiny DOM builders. Text always goes in as text nodes (never innerHTML), so data from provd
// cannot inject markup; the page's Content-Security-Policy forbids inline scripts and styles.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "dataset") {
      Object.assign(el.dataset, v);
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
}

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function empty(title, hint) {
  return h("div", { class: "empty" }, h("p", { class: "empty-title" }, title),
    hint ? h("p", { class: "empty-hint" }, hint) : null);
}

export function card(title, attrs, ...children) {
  return h("section", { class: "card", ...(attrs || {}) },
    title ? h("h2", {}, title) : null, ...children);
}

export function severityBadge(sev) {
  const name = String(sev || "").replace("SEVERITY_", "").toLowerCase();
  return h("span", { class: `badge sev-${name}` }, name || "?");
}

export function statusPill(st) {
  const name = String(st || "").replace("FLAG_STATUS_", "").toLowerCase();
  return h("span", { class: `pill st-${name}` }, name || "?");
}

export function link(href, text, attrs = {}) {
  return h("a", { href, ...attrs }, text);
}

export function accountLink(id) {
  return link(`#/account/${encodeURIComponent(id)}`, id, { class: "mono" });
}

// columns: [{title, cell: row => Node|string, cls}]; rows: array; attrs for the <table>.
export function table(columns, rows, { empty: emptyNode, attrs = {}, rowAttrs } = {}) {
  if (!rows.length && emptyNode) return emptyNode;
  return h("div", { class: "table-wrap" }, h("table", { class: "table", ...attrs },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.cls }, c.title)))),
    h("tbody", {}, rows.map((r) => h("tr", rowAttrs ? rowAttrs(r) : {},
      columns.map((c) => h("td", { class: c.cls }, c.cell(r))))))));
}

// A definition list of [term, value] pairs; values that are empty show a dash.
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [
    h("dt", {}, k),
    h("dd", {}, v === "" || v === null || v === undefined ||
      (Array.isArray(v) && !v.length) ? "–" : v),
  ]));
}

export function errorBox(err) {
  return h("div", { class: "error-box", role: "alert" },
    h("strong", {}, err.status ? `${err.status} ${err.code || ""}` : "Error"), " ",
    err.message || String(err));
}
