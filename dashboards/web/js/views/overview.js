// Fleet overview: data centres, nodes reporting and silent, accelerators by vendor and model,
// open flags by severity. Refreshed by the live feed's overview events.
import { api } from "../api.js";
import { bars } from "../charts.js";
import { card, clear, empty, h, table } from "../dom.js";
import * as fmt from "../format.js";

function stat(label, value, detail, attrs = {}) {
  return h("div", { class: "stat", ...attrs }, h("div", { class: "label" }, label),
    h("div", { class: "value" }, value), h("div", { class: "detail" }, detail));
}

function openBySeverity(o) {
  const counts = new Map(fmt.severityOrder.map((s) => [s, 0]));
  for (const c of o.flags || []) {
    if (c.status !== "FLAG_STATUS_RESOLVED") counts.set(c.severity, (counts.get(c.severity) || 0) + c.count);
  }
  return counts;
}

function modelLabel(g) {
  return g.model ? `${g.vendor} ${g.model}` : `${g.vendor} unknown (PCI ${fmt.pciId(g.vendor_id, g.device_id)})`;
}

function draw(root, o) {
  clear(root);
  const open = openBySeverity(o);
  const openTotal = [...open.values()].reduce((a, b) => a + b, 0);
  const urgent = (open.get("SEVERITY_CRITICAL") || 0) + (open.get("SEVERITY_HIGH") || 0);
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Fleet overview"),
    h("span", { class: "sub", id: "overview-as-of" }, `as of ${fmt.utc(o.as_of)}`)));
  root.append(h("div", { class: "stats", id: "overview-stats" },
    stat("Nodes", fmt.count(o.nodes), [
      `${fmt.count(o.nodes_reporting)} reporting · `,
      h("span", { class: o.nodes_silent ? "bad" : "" }, `${fmt.count(o.nodes_silent)} silent`),
    ], { id: "stat-nodes" }),
    stat("Accelerators", fmt.count(o.accelerators),
      `${fmt.plural((o.accelerator_groups || []).length, "kind")} in ${fmt.plural((o.datacenters || []).length, "data centre")}`,
      { id: "stat-accelerators" }),
    stat("Active workloads", fmt.count(o.workloads_active), `${fmt.plural(o.accounts, "account")} in the ledger`),
    stat("Open flags", fmt.count(openTotal), [h("span", { class: urgent ? "bad" : "" },
      `${fmt.count(urgent)} critical or high`)], { id: "stat-flags" }),
    stat("Accelerator-hours", fmt.hours(o.accelerator_hours).replace(" h", ""),
      `estimated ${fmt.flopRange(o.flop)}`, { id: "stat-compute" })));

  if (!o.nodes) {
    root.append(card(null, {}, empty("No node has reported yet.",
      "Run prov-agent on the GPU nodes (or prov-sim) against provd's gRPC address; nodes appear here within one report interval.")));
  }

  const sevItems = fmt.severityOrder.map((s) => ({
    label: fmt.severity(s), value: open.get(s) || 0,
    href: `#/flags?min_severity=${s}`, cls: `sevbar-${fmt.severity(s)}`,
  }));
  const flagsCard = card("Open flags by severity", { id: "open-flags" },
    openTotal ? bars(sevItems, { width: 520, labelWidth: 90 })
      : empty("No open flags.", "Flags appear here and in the flag queue the moment provd raises them."),
    h("p", { class: "note" }, "Open = not resolved (open, acknowledged or escalated). ",
      h("a", { href: "#/flags" }, "Open the flag queue")));

  const dcs = o.datacenters || [];
  const dcCard = card("Data centres", { id: "datacenters" }, table([
    { title: "Data centre", cell: (d) => h("a", { href: `#/flags?datacenter=${encodeURIComponent(d.datacenter)}` }, d.datacenter || "(none)") },
    { title: "Region", cell: (d) => d.region || "–" },
    { title: "Nodes", cls: "num", cell: (d) => fmt.count(d.nodes) },
    { title: "Reporting", cls: "num", cell: (d) => fmt.count(d.nodes - d.nodes_silent) },
    { title: "Silent", cls: "num", cell: (d) => h("span", { class: d.nodes_silent ? "bad" : "" }, fmt.count(d.nodes_silent)) },
    { title: "Accelerators", cls: "num", cell: (d) => fmt.count(d.accelerators) },
  ], dcs, { empty: empty("No data centres yet.") }),
  h("p", { class: "note" }, `Silent: no report for more than ${o.silent_after_seconds} s.`));

  const groups = o.accelerator_groups || [];
  const accCard = card("Accelerators by vendor and model", { id: "accelerators" },
    groups.length ? bars(groups.slice(0, 12).map((g) => ({ label: modelLabel(g), value: g.count,
      href: "#/hardware" })), { width: 620, labelWidth: 230 }) : empty("No accelerators seen yet."),
    groups.length ? table([
      { title: "Vendor", cell: (g) => g.vendor },
      { title: "Model", cell: (g) => g.model || h("span", { class: "muted" }, "unknown model") },
      { title: "PCI ID", cell: (g) => h("span", { class: "mono" }, fmt.pciId(g.vendor_id, g.device_id)) },
      { title: "Count", cls: "num", cell: (g) => fmt.count(g.count) },
      { title: "Nodes", cls: "num", cell: (g) => fmt.count(g.nodes) },
      { title: "Data centres", cell: (g) => (g.datacenters || []).join(", ") },
    ], groups) : null);

  root.append(h("div", { class: "grid grid-2" }, h("div", { class: "stack" }, flagsCard, dcCard), accCard));
}

export async function render(container) {
  const root = h("div", { id: "overview" });
  container.append(root);
  draw(root, await api("/api/overview"));
  return {
    onEvent(ev) {
      if (ev.type === "overview") draw(root, ev.data);
      if (ev.type === "resync") api("/api/overview").then((o) => draw(root, o)).catch(() => {});
    },
  };
}
