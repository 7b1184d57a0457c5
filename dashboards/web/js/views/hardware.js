// Hardware view: accelerators by vendor and model across the fleet, drill-down to individual
// devices, restricted hardware (the policy's restricted_hardware flags), and the declared
// inventory against what is observed (inventory.js).
import { api } from "../api.js";
import { accountLink, card, clear, empty, h, link, severityBadge, statusPill, table } from "../dom.js";
import * as fmt from "../format.js";
import { inventoryCard } from "./inventory.js";
import { nodeLink } from "./node.js";

function groupKey(vendorId, deviceId) {
  return `${vendorId}:${deviceId}`;
}

async function devices(slot, g) {
  clear(slot).append(h("p", { class: "note" }, "Loading…"));
  const res = await api("/api/accelerators", { query: { vendor_id: g.vendor_id, device_id: g.device_id, limit: 50 } });
  const list = res.accelerators || [];
  clear(slot).append(h("h3", {}, `${g.vendor} ${g.model || "unknown model"} (PCI ${fmt.pciId(g.vendor_id, g.device_id)}): ${fmt.plural(g.count, "device")}${g.count > list.length ? `, first ${list.length} shown` : ""}`),
    table([
      { title: "Node", cls: "nowrap", cell: (r) => nodeLink(r.node_id) },
      { title: "Hostname", cell: (r) => h("span", { class: "note" }, r.hostname) },
      { title: "Data centre", cell: (r) => r.datacenter },
      { title: "PCI address", cell: (r) => h("span", { class: "mono" }, r.accelerator.pci_address) },
      { title: "Serial / UUID", cell: (r) => h("span", { class: "mono" }, r.accelerator.serial || r.accelerator.uuid || "–") },
      // provd names devices from its catalog by PCI ID; the agent's own name is shown, marked when it disagrees.
      { title: "Agent's name", cell: (r) => (r.accelerator.name_disagrees
        ? h("span", { class: "bad", title: "disagrees with the catalog's name for this PCI ID" }, `${r.accelerator.reported_name} ≠`)
        : h("span", { class: "note" }, r.accelerator.reported_name || "–")) },
      { title: "Family", cell: (r) => r.accelerator.family || "–" },
      { title: "Memory", cls: "num", cell: (r) => (Number(r.accelerator.memory_total_bytes) ? `${Math.round(Number(r.accelerator.memory_total_bytes) / 2 ** 30)} GiB` : "–") },
      { title: "Last seen", cls: "nowrap", cell: (r) => fmt.utc(r.last_seen, { seconds: false }) },
    ], list, { empty: empty("No devices.") }));
}

export async function render(container, route, ctx) {
  const root = h("div", { id: "hardware-view" });
  container.append(root);
  const [overview, restricted] = await Promise.all([
    api("/api/overview"), api("/api/flags", { query: { rule: "restricted_hardware:", limit: 200 } })]);
  const flags = restricted.flags || [];
  // The restricted devices' kinds, from the flagged nodes' inventories.
  const restrictedKinds = new Set();
  const flagged = new Set(flags.flatMap((f) => f.accelerators || []));
  const nodes = [...new Set(flags.flatMap((f) => f.nodes || []))].slice(0, 50);
  const inventories = await Promise.all(nodes.map((n) => api("/api/accelerators", { query: { node_id: n } }).catch(() => ({}))));
  for (const inv of inventories) {
    for (const r of inv.accelerators || []) {
      if (flagged.has(`${r.node_id}/${r.accelerator.pci_address}`)) restrictedKinds.add(groupKey(r.accelerator.vendor_id, r.accelerator.device_id));
    }
  }
  const groups = overview.accelerator_groups || [];
  const vendors = new Map();
  for (const g of groups) vendors.set(g.vendor, (vendors.get(g.vendor) || 0) + g.count);

  clear(root);
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Hardware"),
    h("span", { class: "sub" }, `${fmt.plural(overview.accelerators, "accelerator")} · ${fmt.plural(groups.length, "kind")} · ${fmt.plural(vendors.size, "vendor")}`)));

  const drill = h("div", { id: "device-list" });
  const vendorStats = h("div", { class: "vendor-stats", id: "by-vendor" },
    [...vendors.entries()].sort((a, b) => b[1] - a[1]).map(([v, c]) => h("div", { class: "stat" },
      h("div", { class: "label" }, v), h("div", { class: "value" }, fmt.count(c)),
      h("div", { class: "detail" }, fmt.plural(groups.filter((g) => g.vendor === v).length, "model")))));
  const modelTable = table([
    { title: "Vendor", cell: (g) => g.vendor },
    { title: "Model", cell: (g) => [g.model || h("span", { class: "muted" }, "unknown model"),
      restrictedKinds.has(groupKey(g.vendor_id, g.device_id)) ? h("span", { class: "tag tag-restricted" }, "restricted") : null] },
    { title: "PCI ID", cell: (g) => h("span", { class: "mono" }, fmt.pciId(g.vendor_id, g.device_id)) },
    { title: "Count", cls: "num", cell: (g) => fmt.count(g.count) },
    { title: "Nodes", cls: "num", cell: (g) => fmt.count(g.nodes) },
    { title: "Data centres", cell: (g) => (g.datacenters || []).join(", ") },
    { title: "First seen", cls: "nowrap", cell: (g) => fmt.utc(g.first_seen, { seconds: false }) },
  ], groups, {
    empty: empty("No accelerators seen yet."),
    attrs: { id: "model-table" },
    rowAttrs: (g) => ({ class: "clickable", title: "Show the devices", onclick: (e) => {
      root.querySelectorAll("#model-table tr.selected").forEach((r) => r.classList.remove("selected"));
      e.currentTarget.classList.add("selected");
      devices(drill, g).catch((err) => clear(drill).append(String(err.message)));
    } }),
  });
  root.append(vendorStats.childElementCount ? vendorStats : card(null, {}, empty("No accelerators seen yet.",
    "Accelerators are identified by PCI ID on every node report.")));
  root.append(card(`Restricted hardware (${flags.length})`, { id: "restricted-card" }, table([
    { title: "Flag", cell: (f) => link(`#/flag/${encodeURIComponent(f.flag_id)}`, f.flag_id, { class: "mono" }) },
    { title: "Severity", cell: (f) => severityBadge(f.severity) },
    { title: "Status", cell: (f) => statusPill(f.status) },
    { title: "Rule", cell: (f) => h("span", { class: "mono" }, f.rule.replace("restricted_hardware:", "")) },
    { title: "Node", cell: (f) => [(f.nodes || []).map((n) => h("div", { class: "mono" }, n)), h("div", { class: "note" }, (f.datacenters || []).join(", "))] },
    { title: "Accounts", cell: (f) => (f.accounts || []).map((a) => h("div", {}, accountLink(a))) },
    { title: "What", cell: (f) => f.summary },
  ], flags, { empty: empty("No restricted hardware in the fleet under the policy in force.",
    "The policy's restricted_hardware rules (by PCI vendor, device and family) are checked on every node's inventory.") })));

  root.append(card("Accelerators by model", { id: "by-model" }, modelTable,
    h("p", { class: "note" }, "Click a model to list its devices. Unknown models are kept by raw PCI ID, never dropped."), drill));
  root.append(inventoryCard(route.query, ctx));
  return {};
}
