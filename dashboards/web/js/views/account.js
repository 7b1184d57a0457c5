// Account view: identity (KYC), screening hits, bundle and flags, and the usage ledger over time
// as a chart, with the account's workloads.
import { api } from "../api.js";
import { usageChart } from "../charts.js";
import { accountLink, card, clear, empty, facts, h, link, severityBadge, statusPill, table } from "../dom.js";
import * as fmt from "../format.js";

const optional = (p) => p.catch((e) => (e.status === 404 ? null : Promise.reject(e)));

function identityCard(view) {
  if (!view || !view.identity) {
    return card("Identity (KYC)", { id: "identity-card" }, empty("No KYC record for this account.",
      "Import customer identities with `provctl accounts import FILE`; until then the account is known only from its workloads."));
  }
  const id = view.identity;
  return card("Identity (KYC)", { id: "identity-card" }, facts([
    ["Legal entity", h("strong", {}, id.legal_entity)],
    ["Country of incorporation", id.country_of_incorporation],
    ["Beneficial owners", (id.beneficial_owners || []).map((o) => h("div", {}, `${o.name}${o.nationality ? ` (${o.nationality})` : ""}`))],
    ["Addresses", (id.addresses || []).map((a) => h("div", {}, a))],
    ["E-mail domains", (id.email_domains || []).join(", ")],
    ["Source IPs", (id.source_ips || []).join(", ")],
    ["Payment fingerprint", id.payment_fingerprint ? h("span", { class: "mono" }, id.payment_fingerprint) : ""],
    ["Parent account", id.parent_account ? accountLink(id.parent_account) : ""],
    ["Reseller", id.is_reseller ? "yes" : "no"],
    ["KYC version", view.kyc_version],
  ]));
}

function screeningCard(view) {
  const hits = (view && view.screening) || [];
  return card(`Screening hits (${hits.length})`, { id: "screening-card" }, table([
    { title: "Subject", cell: (m) => [h("div", {}, m.subject_name), h("div", { class: "note" }, m.subject_kind)] },
    { title: "Listed name", cell: (m) => [h("div", {}, m.entry_name), m.matched_alias ? h("span", { class: "tag" }, "alias") : null] },
    { title: "List", cell: (m) => [h("div", {}, m.entry_source), h("div", { class: "note mono" }, `${m.entry_id} · ${m.list_version}`)] },
    { title: "Score", cls: "num", cell: (m) => Number(m.score).toFixed(2) },
    { title: "Why", cell: (m) => (m.reasons || []).join("; ") },
  ], hits, { empty: empty("No screening hits.", "Screened against every imported list version; hits appear here and raise a flag.") }));
}

function flagsCard(view) {
  const flags = (view && view.flags) || [];
  return card(`Flags (${flags.length})`, { id: "account-flags" }, table([
    { title: "Flag", cell: (f) => link(`#/flag/${encodeURIComponent(f.flag_id)}`, f.flag_id, { class: "mono" }) },
    { title: "Severity", cell: (f) => severityBadge(f.severity) },
    { title: "Status", cell: (f) => statusPill(f.status) },
    { title: "Summary", cell: (f) => f.summary },
  ], flags, { empty: empty("No flags name this account.") }),
  view && view.bundle_id ? h("p", {}, "Bundle: ", link(`#/bundle/${encodeURIComponent(view.bundle_id)}`, view.bundle_id)) : null);
}

export async function render(container, route) {
  const id = route.params[0];
  const root = h("div", { id: "account-view" });
  container.append(root);
  const [view, series, totals, workloads] = await Promise.all([
    optional(api(`/api/accounts/${encodeURIComponent(id)}`)),
    api(`/api/accounts/${encodeURIComponent(id)}/usage`),
    api("/api/usage", { query: { account: id } }),
    api("/api/workloads", { query: { account: id, limit: 200 } }),
  ]);
  const usage = (totals.accounts || [])[0];
  const points = series.points || [];
  clear(root);
  root.append(h("div", { class: "page-head" }, h("h1", {}, id),
    view && view.identity ? h("span", { class: "sub" }, `${view.identity.legal_entity} · ${view.identity.country_of_incorporation || "country unknown"}`) : null));
  root.append(h("div", { class: "stats" },
    h("div", { class: "stat" }, h("div", { class: "label" }, "Accelerator-hours"), h("div", { class: "value" }, usage ? fmt.hours(usage.accelerator_hours) : "0 h"),
      h("div", { class: "detail" }, usage ? `${fmt.hours(usage.training_accelerator_hours)} training · ${fmt.hours(usage.inference_accelerator_hours)} inference` : "no usage recorded")),
    h("div", { class: "stat" }, h("div", { class: "label" }, "Estimated FLOP"), h("div", { class: "value" }, usage ? fmt.eng(usage.flop.low) : "0"),
      h("div", { class: "detail" }, usage ? `${fmt.flopRange(usage.flop)} · ${usage.flop.method || ""}` : "")),
    h("div", { class: "stat" }, h("div", { class: "label" }, "Workloads"), h("div", { class: "value" }, usage ? fmt.count(usage.workloads) : "0"),
      h("div", { class: "detail" }, usage ? `on ${fmt.plural(usage.nodes, "node")} in ${(usage.datacenters || []).join(", ") || "–"}` : ""))));
  root.append(card("Usage ledger over time", { id: "usage-card" },
    points.length ? usageChart(points, series.bucket_hours)
      : empty("No usage recorded for this account.", "Usage appears once agents attribute a workload to it.")));
  root.append(h("div", { class: "grid grid-2" }, identityCard(view),
    h("div", { class: "stack" }, screeningCard(view), flagsCard(view))));
  const ws = workloads.workloads || [];
  root.append(card(`Workloads (${ws.length}${ws.length >= 200 ? "+, first 200" : ""})`, { id: "account-workloads" }, table([
    { title: "Workload", cell: (w) => h("span", { class: "mono" }, w.workload_id) },
    { title: "Node", cell: (w) => [h("span", { class: "mono" }, w.node_id), h("div", { class: "note" }, w.datacenter)] },
    { title: "Class", cell: (w) => String(w.workload_class).replace("WORKLOAD_CLASS_", "").toLowerCase() },
    { title: "Accelerators", cell: (w) => `${w.accelerator_count} × ${w.accelerator_model || "?"}` },
    { title: "Accelerator-hours", cls: "num", cell: (w) => fmt.hours(w.accelerator_hours) },
    { title: "Estimated FLOP", cls: "num", cell: (w) => fmt.flopRange(w.flop) },
    { title: "Seen", cls: "nowrap", cell: (w) => [fmt.utc(w.first_seen, { seconds: false }), h("br"), fmt.utc(w.last_seen, { seconds: false })] },
  ], ws, { empty: empty("No workloads attributed to this account.") })));
  return {};
}
