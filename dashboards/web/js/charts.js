// SVG charts drawn in the browser: horizontal bars, the account usage chart, the evidence graph
// (accounts as nodes, links as edges labelled by kind and weight) and the evidence timeline.
import { h, s } from "./dom.js";
import * as fmt from "./format.js";

// items: [{label, value, href, cls}] -> one bar per item, longest = full width.
export function bars(items, { width = 560, row = 24, labelWidth = 190, format = fmt.count } = {}) {
  const max = Math.max(1, ...items.map((i) => Number(i.value) || 0));
  const plot = width - labelWidth - 70;
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${items.length * row + 4}`,
    role: "img", "aria-label": "bar chart" });
  items.forEach((it, k) => {
    const y = k * row + 2;
    const w = Math.max(2, (Number(it.value) / max) * plot);
    const label = s("text", { x: labelWidth - 8, y: y + row / 2 + 4, "text-anchor": "end" },
      it.label.length > 30 ? `${it.label.slice(0, 29)}…` : it.label);
    const bar = s("rect", { class: `bar ${it.cls || ""}`, x: labelWidth, y: y + 4, width: w,
      height: row - 8, rx: 2 });
    const value = s("text", { x: labelWidth + w + 6, y: y + row / 2 + 4 }, format(it.value));
    const g = s("g", {}, s("title", {}, `${it.label}: ${format(it.value)}`), label, bar, value);
    svg.append(it.href ? s("a", { href: it.href }, g) : g);
  });
  return svg;
}

// The next "round" number at or above v: 1, 2, 2.5, 5 or 10 times a power of ten.
function nice(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((c) => c >= v * 0.999) || 10 * p;
}

function timeTicks(t0, t1, n) {
  const span = Math.max(1, t1 - t0);
  const steps = [60e3, 300e3, 900e3, 1800e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3,
    86400e3, 7 * 86400e3, 30 * 86400e3];
  const step = steps.find((st) => span / st <= n) || steps[steps.length - 1];
  const out = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  return { ticks: out, step };
}

function tickLabel(t, step) {
  const iso = new Date(t).toISOString();
  return step >= 86400e3 ? iso.slice(5, 10) : iso.slice(11, 16);
}

// points: UsagePoint[] (start, training/inference accelerator hours, flop_low).
export function usageChart(points, bucketHours) {
  const W = 900, H = 260, L = 64, R = 74, T = 14, B = 40;
  const pw = W - L - R, ph = H - T - B;
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "usage over time" });
  const bucketMs = bucketHours * 3600e3;
  // At least 12 buckets wide, so a young account's single hour is a bar, not the whole chart.
  const t1 = fmt.millis(points[points.length - 1].start) + bucketMs;
  const t0 = Math.min(fmt.millis(points[0].start), t1 - 12 * bucketMs);
  const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * pw;
  const maxH = nice(Math.max(1e-9, ...points.map((p) => Number(p.accelerator_hours))));
  let cum = 0;
  const cumul = points.map((p) => (cum += Number(p.flop_low)));
  const maxF = nice(Math.max(1, cum));
  const yH = (v) => T + ph - (v / maxH) * ph;
  const yF = (v) => T + ph - (v / maxF) * ph;
  for (let i = 0; i <= 4; i++) {
    const y = T + (ph * i) / 4;
    svg.append(s("line", { class: "grid-line", x1: L, x2: L + pw, y1: y, y2: y }));
    svg.append(s("text", { x: L - 6, y: y + 4, "text-anchor": "end" },
      fmt.hours(maxH * (1 - i / 4)).replace(" h", "")));
    svg.append(s("text", { x: L + pw + 6, y: y + 4 }, fmt.eng(maxF * (1 - i / 4))));
  }
  const slot = (bucketMs / Math.max(1, t1 - t0)) * pw;
  const bw = Math.max(1, Math.min(48, slot - 2));
  points.forEach((p) => {
    const xs = x(fmt.millis(p.start)) + (slot - bw) / 2;
    const tr = Number(p.training_accelerator_hours), inf = Number(p.inference_accelerator_hours);
    const other = Math.max(0, Number(p.accelerator_hours) - tr - inf);
    const tip = `${fmt.utc(p.start, { seconds: false })}: ${fmt.hours(p.accelerator_hours)} ` +
      `(${fmt.hours(tr)} training), ${fmt.flopRange({ low: p.flop_low, high: p.flop_high })}`;
    const g = s("g", {}, s("title", {}, tip));
    g.append(s("rect", { class: "bar-train", x: xs, width: bw, y: yH(tr + other), height: ph + T - yH(tr + other) }));
    g.append(s("rect", { class: "bar-infer", x: xs, width: bw, y: yH(tr + other + inf), height: yH(tr + other) - yH(tr + other + inf) }));
    svg.append(g);
  });
  const path = points.map((p, i) =>
    `${i ? "L" : "M"}${x(fmt.millis(p.start) + bucketMs).toFixed(1)},${yF(cumul[i]).toFixed(1)}`).join(" ");
  const start = x(fmt.millis(points[0].start));
  svg.append(s("path", { class: "line-flop", d: `M${start.toFixed(1)},${T + ph} ${path.replace(/^M/, "L")}` }));
  const { ticks, step } = timeTicks(t0, t1, 8);
  const axis = s("g", { class: "axis" }, s("line", { x1: L, x2: L + pw, y1: T + ph, y2: T + ph }));
  ticks.forEach((t) => {
    axis.append(s("line", { x1: x(t), x2: x(t), y1: T + ph, y2: T + ph + 4 }));
    axis.append(s("text", { x: x(t), y: T + ph + 16, "text-anchor": "middle" }, tickLabel(t, step)));
  });
  axis.append(s("text", { x: L + pw / 2, y: H - 6, "text-anchor": "middle" },
    `time (UTC), ${bucketHours} h per bar`));
  axis.append(s("text", { x: 12, y: T + ph / 2, transform: `rotate(-90 12 ${T + ph / 2})`,
    "text-anchor": "middle" }, "accelerator-hours"));
  axis.append(s("text", { x: W - 8, y: T + ph / 2, transform: `rotate(90 ${W - 8} ${T + ph / 2})`,
    "text-anchor": "middle" }, "cumulative FLOP (low)"));
  svg.append(axis);
  return h("div", {}, svg, h("div", { class: "legend" },
    h("span", {}, h("span", { class: "sw sw-train" }), "training (and unclassified) accelerator-hours"),
    h("span", {}, h("span", { class: "sw sw-infer" }), "inference accelerator-hours"),
    h("span", {}, h("span", { class: "sw sw-flop" }), "cumulative estimated FLOP, low bound")));
}

// accounts: [id]; links: Link[]; hits: Set of accounts with screening hits.
export function evidenceGraph(accounts, links, { hits = new Set() } = {}) {
  const n = accounts.length;
  const W = 760, H = n <= 2 ? 220 : 420;
  const cx = W / 2, cy = H / 2, r = n <= 2 ? 230 : Math.min(W, H) / 2 - 60;
  const pos = new Map();
  accounts.forEach((a, i) => {
    const angle = n <= 2 ? Math.PI * i : (2 * Math.PI * i) / n - Math.PI / 2;
    pos.set(a, [cx + (n === 1 ? 0 : r * Math.cos(angle)), cy + (n === 1 ? 0 : r * Math.sin(angle))]);
  });
  const pairs = new Map();
  for (const l of links) {
    if (!pos.has(l.account_a) || !pos.has(l.account_b)) continue;
    const key = `${l.account_a}\u0000${l.account_b}`;
    if (!pairs.has(key)) pairs.set(key, { a: l.account_a, b: l.account_b, kinds: new Map(), none: 1 });
    const p = pairs.get(key);
    p.kinds.set(l.kind, (p.kinds.get(l.kind) || 0) + 1);
    p.none *= 1 - Number(l.weight);
  }
  const svg = s("svg", { class: "chart graph", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "evidence graph", id: "evidence-graph" });
  const labels = [];
  // Edge labels: the first spot along the edge that does not overlap a label already placed
  // (diagonals of a square cross at the centre, so their midpoints coincide).
  const placed = accounts.map((a) => {
    const [x, y] = pos.get(a);
    return { x, y: y >= cy ? y + 28 : y - 24, w: a.length * 6.5 };
  });
  for (const a of accounts) placed.push({ x: pos.get(a)[0], y: pos.get(a)[1], w: 36 });
  const overlaps = (x, y, w) => placed.some((b) => Math.abs(b.x - x) < (b.w + w) / 2 + 4 && Math.abs(b.y - y) < 14);
  for (const p of pairs.values()) {
    const [x1, y1] = pos.get(p.a), [x2, y2] = pos.get(p.b);
    const score = 1 - p.none;
    const kinds = [...p.kinds.entries()].map(([k, c]) => (c > 1 ? `${k} ×${c}` : k)).join(", ");
    const text = `${kinds} (${score.toFixed(2)})`;
    const w = text.length * 5.6;
    let lx = (x1 + x2) / 2, ly = (y1 + y2) / 2 - 6;
    for (const t of [0.5, 0.32, 0.68, 0.22, 0.78]) {
      const cx2 = x1 + (x2 - x1) * t, cy2 = y1 + (y2 - y1) * t - 6;
      if (!overlaps(cx2, cy2, w)) { lx = cx2; ly = cy2; break; }
    }
    placed.push({ x: lx, y: ly, w });
    svg.append(s("g", { class: "edge-group" },
      s("title", {}, `${p.a} – ${p.b}: ${kinds}; combined score ${score.toFixed(2)}`),
      s("line", { class: "edge", x1, y1, x2, y2, "stroke-width": (1 + 5 * score).toFixed(1) })));
    labels.push(s("text", { class: "edge-label", x: lx, y: ly, "text-anchor": "middle" }, text));
  }
  svg.append(...labels);
  for (const a of accounts) {
    const [x, y] = pos.get(a);
    svg.append(s("g", { class: `node${hits.has(a) ? " hit" : ""}`, "data-account": a },
      s("a", { href: `#/account/${encodeURIComponent(a)}` },
        s("title", {}, hits.has(a) ? `${a} (screening hit)` : a),
        s("circle", { cx: x, cy: y, r: 16 }),
        s("text", { x, y: y >= cy ? y + 32 : y - 22, "text-anchor": "middle" }, a))));
  }
  return svg;
}

// Link first/last times as bars, the flag's times and evidence times as markers.
export function timeline(links, flag) {
  const rows = links.slice(0, 40);
  const marks = [];
  if (flag) {
    for (const [t, label] of [[flag.first_time, "rule first held"], [flag.last_time, "last update"]]) {
      if (fmt.millis(t)) marks.push({ t: fmt.millis(t), label });
    }
  }
  const evid = (flag ? flag.evidence || [] : []).filter((e) => fmt.millis(e.time));
  const times = [...marks.map((m) => m.t), ...evid.map((e) => fmt.millis(e.time))];
  for (const l of rows) times.push(fmt.millis(l.first_time), fmt.millis(l.last_time));
  const valid = times.filter((t) => t);
  if (!valid.length) return null;
  let t0 = Math.min(...valid), t1 = Math.max(...valid);
  if (t1 - t0 < 60e3) { t0 -= 30e3; t1 += 30e3; }
  const W = 1000, L = 330, R = 20, top = 34, row = 20;
  const H = top + Math.max(1, rows.length) * row + 36;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "evidence timeline", id: "evidence-timeline" });
  const { ticks, step } = timeTicks(t0, t1, 8);
  ticks.forEach((t) => {
    svg.append(s("line", { class: "grid-line", x1: x(t), x2: x(t), y1: top - 6, y2: H - 28 }));
    svg.append(s("text", { x: x(t), y: H - 14, "text-anchor": "middle" }, tickLabel(t, step)));
  });
  svg.append(s("text", { x: W - R, y: H - 2, "text-anchor": "end" }, "time (UTC)"));
  svg.append(s("text", { x: L - 8, y: 16, "text-anchor": "end" }, "flag and evidence"));
  evid.forEach((e) => svg.append(s("g", {}, s("title", {}, `${fmt.utc(e.time)}: ${e.sentence}`),
    s("circle", { class: "tl-evidence", cx: x(fmt.millis(e.time)), cy: 12, r: 4 }))));
  marks.forEach((m) => svg.append(s("g", {}, s("title", {}, `${m.label}: ${fmt.utc(new Date(m.t).toISOString())}`),
    s("line", { class: "tl-flag", x1: x(m.t), x2: x(m.t), y1: 2, y2: H - 28 }),
    s("text", { class: "halo", x: x(m.t) + (x(m.t) > W - 140 ? -4 : 4), y: 28,
      "text-anchor": x(m.t) > W - 140 ? "end" : "start" }, m.label))));
  rows.forEach((l, i) => {
    const y = top + i * row;
    const a = fmt.millis(l.first_time), b = fmt.millis(l.last_time) || a;
    const label = `${l.kind}: ${l.account_a} – ${l.account_b}`;
    const shown = label.length > 54 ? `${label.slice(0, 53)}…` : label;
    svg.append(s("g", {}, s("title", {}, `${label}\n${fmt.utc(l.first_time)} → ${fmt.utc(l.last_time)}\n${l.sentence}`),
      s("text", { x: L - 8, y: y + 13, "text-anchor": "end" }, shown),
      a ? s("rect", { class: "tl-bar", x: x(a), y: y + 4, width: Math.max(3, x(b) - x(a)), height: row - 8, rx: 2 }) : null,
      a ? s("circle", { class: "tl-dot", cx: x(a), cy: y + row / 2, r: 3 }) : null));
  });
  return h("div", {}, svg, h("div", { class: "legend" },
    h("span", {}, h("span", { class: "sw sw-link" }), "evidence link, first to last seen"),
    h("span", {}, h("span", { class: "sw sw-flag" }), "flag: rule first held / last update"),
    h("span", {}, h("span", { class: "sw sw-evidence" }), "evidence step"),
    links.length > rows.length ? h("span", {}, `first ${rows.length} of ${links.length} links`) : null));
}
