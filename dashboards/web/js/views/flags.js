// Flag queue: filter by severity, status, rule, data centre, account. Flags pushed by the live
// feed are inserted, updated or removed in place (no reload) and highlighted.
import { api } from "../api.js";
import { accountLink, card, clear, empty, h, severityBadge, statusPill } from "../dom.js";
import * as fmt from "../format.js";

const LIMIT = 500;
const RULES = [["", "any rule"], ["compute_tier:", "compute tier (any)"], ["projection:", "projection (any)"],
  ["restricted_party_training", "restricted party training"], ["restricted_hardware:", "restricted hardware (any)"],
  ["screening_hit", "screening hit"], ["node_identity_mismatch", "node identity mismatch"]];

// The same test as provd's ListFlags (server/analysis/analyzer_flags.cc Matches).
export function matches(f, q) {
  if (q.min_severity && fmt.severityRank(f.severity) < fmt.severityRank(q.min_severity)) return false;
  if (q.status && f.status !== q.status) return false;
  if (q.rule && (q.rule.endsWith(":") ? !f.rule.startsWith(q.rule) : f.rule !== q.rule)) return false;
  if (q.account && !(f.accounts || []).includes(q.account)) return false;
  if (q.datacenter && !(f.datacenters || []).includes(q.datacenter)) return false;
  return true;
}

function order(a, b) {
  const s = fmt.severityRank(b.severity) - fmt.severityRank(a.severity);
  if (s) return s;
  return (fmt.millis(b.updated_at) || 0) - (fmt.millis(a.updated_at) || 0);
}

function select(name, options, value, onChange) {
  const el = h("select", { name, id: `filter-${name}` },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
  el.addEventListener("change", onChange);
  return el;
}

function row(f, fresh) {
  const accounts = f.accounts || [];
  return h("tr", { "data-flag-id": f.flag_id, class: fresh ? "fresh" : "" },
    h("td", { class: "nowrap" }, h("a", { href: `#/flag/${encodeURIComponent(f.flag_id)}`, class: "mono" }, f.flag_id),
      fresh ? h("span", { class: "tag tag-new" }, fresh) : null),
    h("td", {}, severityBadge(f.severity)),
    h("td", {}, statusPill(f.status), f.assignee ? h("div", { class: "note" }, `→ ${f.assignee}`) : null),
    h("td", { class: "mono" }, f.rule),
    h("td", { class: "nowrap" }, accounts.slice(0, 3).map((a) => h("div", {}, accountLink(a))),
      accounts.length > 3 ? h("div", { class: "note" }, `+${accounts.length - 3} more`) : null),
    h("td", {}, (f.datacenters || []).join(", ") || "–"),
    h("td", { class: "num" }, f.training_flop && Number(f.training_flop.high) ? fmt.flopRange(f.training_flop) : "–"),
    h("td", { class: "nowrap" }, fmt.utc(f.updated_at, { seconds: false }).replace(" UTC", "")),
    h("td", { class: "summary" }, h("div", { class: "clamp", title: f.summary }, f.summary)));
}

export async function render(container, route, ctx) {
  const q = {};
  for (const k of ["min_severity", "status", "rule", "datacenter", "account"]) q[k] = route.query.get(k) || "";
  const root = h("div", { id: "flag-queue-page" });
  container.append(root);
  const overview = await api("/api/overview").catch(() => ({ datacenters: [] }));
  let flags = new Map();
  const fresh = new Map();  // flag id -> {label, at}: pushed by the live feed in the last 15 s
  let loaded = new Set();   // ids in the last full load: a pushed flag not among them is "new"
  const head = h("span", { class: "sub", id: "flag-count" });
  const body = h("div");

  const refilter = () => {
    ctx.setQuery(q);
    load();
  };
  const onSelect = (name) => (e) => { q[name] = e.target.value; refilter(); };
  const account = h("input", { type: "text", id: "filter-account", value: q.account, placeholder: "any account" });
  account.addEventListener("change", (e) => { q.account = e.target.value.trim(); refilter(); });
  const dcOptions = [["", "any data centre"], ...(overview.datacenters || []).map((d) => [d.datacenter, d.datacenter])];
  if (q.datacenter && !dcOptions.some(([v]) => v === q.datacenter)) dcOptions.push([q.datacenter, q.datacenter]);
  const ruleOptions = RULES.some(([v]) => v === q.rule) ? RULES : [...RULES, [q.rule, q.rule]];
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Flag queue"), head),
    h("form", { class: "filters", id: "flag-filters", onsubmit: (e) => e.preventDefault() },
      h("label", {}, "Severity at least", select("min_severity", [["", "any"],
        ...fmt.severityOrder.map((s) => [s, fmt.severity(s)])], q.min_severity, onSelect("min_severity"))),
      h("label", {}, "Status", select("status", [["", "any"], ...fmt.statusOrder.map((s) => [s, fmt.status(s)])],
        q.status, onSelect("status"))),
      h("label", {}, "Rule", select("rule", ruleOptions, q.rule, onSelect("rule"))),
      h("label", {}, "Data centre", select("datacenter", dcOptions, q.datacenter, onSelect("datacenter"))),
      h("label", {}, "Account", account)),
    card(null, {}, body));

  const draw = () => {
    const now = Date.now();
    for (const [id, v] of fresh) if (now - v.at > 15000) fresh.delete(id);
    const list = [...flags.values()].sort(order);
    head.textContent = `${fmt.plural(list.length, "flag")}${list.length >= LIMIT ? ` (first ${LIMIT})` : ""} · updates live`;
    clear(body);
    const filtered = Object.values(q).some((v) => v);
    if (!list.length) {
      body.append(filtered ? empty("No flag matches these filters.", "Flags that start to match appear here as provd raises or updates them.")
        : empty("No flags yet.", "provd raises a flag when a rule of the policy holds (compute tier, restricted party, restricted hardware, screening hit); it appears here without a reload."));
      return;
    }
    body.append(h("div", { class: "table-wrap" }, h("table", { class: "table", id: "flag-queue" },
      h("thead", {}, h("tr", {}, ["Flag", "Severity", "Status", "Rule", "Accounts", "Data centres",
        "Estimated FLOP", "Updated (UTC)", "Summary"].map((t) => h("th", {}, t)))),
      h("tbody", {}, list.map((f) => row(f, fresh.has(f.flag_id) ? fresh.get(f.flag_id).label : ""))))));
  };

  const load = async () => {
    const res = await api("/api/flags", { query: { ...q, limit: LIMIT } });
    flags = new Map((res.flags || []).map((f) => [f.flag_id, f]));
    loaded = new Set(flags.keys());
    draw();
  };
  await load();

  return {
    onEvent(ev) {
      if (ev.type === "resync") { load().catch(() => {}); return; }
      if (ev.type !== "flag") return;
      const f = ev.data;
      const known = flags.has(f.flag_id);
      if (matches(f, q)) {
        flags.set(f.flag_id, f);
        fresh.set(f.flag_id, { label: loaded.has(f.flag_id) ? "updated" : "new", at: Date.now() });
        draw();
      } else if (known) {
        flags.delete(f.flag_id);
        draw();
      }
    },
  };
}
