// Node detail (#/node/<node_id>): what the node is (its reports' identity and, from SMBIOS, the
// machine under it), the changes of that machine identity under the same node_id (old -> new,
// when), the open hardware_* flags that name it, its accelerators as provd names them, and how
// complete its evidence is.
import { api } from "../api.js";
import { card, clear, empty, facts, h, link, severityBadge, statusPill, table } from "../dom.js";
import * as fmt from "../format.js";
import { HARDWARE_RULES, isOpenHardwareFlag } from "./inventory_flags.js";

export function nodeLink(id) {
  return id ? h("a", { href: `#/node/${encodeURIComponent(id)}`, class: "mono" }, id) : "–";
}

function hardwareCard(hw) {
  const id = (hw && hw.hardware) || null;
  if (!id) {
    return card("Hardware identity", { id: "node-hardware" }, empty("No SMBIOS identity reported.",
      "The agent reads /sys/class/dmi/id (most files are root-only); a fact it cannot read is absent, never invented."));
  }
  const changes = hw.changes || [];
  const total = Number(hw.changes_total || 0);
  return card("Hardware identity", { id: "node-hardware" },
    facts([
      ["System UUID", h("span", { class: "mono", id: "node-system-uuid" }, id.system_uuid || "–")],
      ["Board serial", h("span", { class: "mono", id: "node-board-serial" }, id.board_serial || "–")],
      ["Product serial", h("span", { class: "mono" }, id.product_serial || "–")],
      ["Chassis serial", h("span", { class: "mono" }, id.chassis_serial || "–")],
      ["Machine", [id.sys_vendor, id.product_name].filter(Boolean).join(" ") || "–"],
      ["Board", id.board_name || "–"],
      ["Since", `${fmt.utc(hw.since)} (boot ${hw.since_boot_id || "–"})`],
    ]),
    total
      ? [h("h3", { class: "bad", id: "node-hardware-changed" },
        `${fmt.plural(total, "identity change")} under this node id`),
      h("p", { class: "note" }, "Another machine reporting as this node, or a replaced board. Newest first."),
      table([
        { title: "When", cls: "nowrap", cell: (c) => fmt.utc(c.changed_at) },
        { title: "Fact", cell: (c) => c.field },
        { title: "Old → new", cell: (c) => h("span", { class: "mono" }, `${c.old_value} → ${c.new_value}`) },
        { title: "Boot", cell: (c) => h("span", { class: "mono note" }, c.boot_id || "–") },
        { title: "Previous report", cls: "nowrap", cell: (c) => (c.previous_seen ? fmt.utc(c.previous_seen) : "–") },
      ], changes, { attrs: { id: "node-hardware-changes" } })]
      : h("p", { class: "note", id: "node-hardware-stable" }, "Same machine identity in every report since it was first seen."));
}

// Open hardware_* flags that name this node (subject node:<id>, or the node among Flag.nodes).
async function nodeFlags(n) {
  const lists = await Promise.all(HARDWARE_RULES.map((rule) =>
    api("/api/flags", { query: { rule, datacenter: n.datacenter, limit: 5000 } }).catch(() => ({}))));
  return lists.flatMap((l) => l.flags || []).filter((f) => isOpenHardwareFlag(f) &&
    (f.subject === `node:${n.node_id}` || (f.nodes || []).includes(n.node_id)));
}

export async function render(container, route) {
  const id = route.params[0];
  const root = h("div", { id: "node-detail" });
  container.append(root);
  const res = await api(`/api/nodes/${encodeURIComponent(id)}`);
  const n = res.node;
  const accels = res.accelerators || [];
  const flags = await nodeFlags(n);
  clear(root);
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Node ", h("span", { class: "mono" }, n.node_id)),
    h("span", { class: "sub" }, `${n.hostname || "–"} · ${n.datacenter || "no data centre"} · ${fmt.plural(accels.length, "accelerator")}`)));
  root.append(h("div", { class: "grid grid-main-side" },
    h("div", { class: "stack" },
      hardwareCard(n.hardware),
      card(`Open hardware flags (${flags.length})`, { id: "node-flags" }, table([
        { title: "Flag", cell: (f) => link(`#/flag/${encodeURIComponent(f.flag_id)}`, f.flag_id, { class: "mono" }) },
        { title: "Severity", cell: (f) => severityBadge(f.severity) },
        { title: "Status", cell: (f) => statusPill(f.status) },
        { title: "Rule", cell: (f) => h("span", { class: "mono" }, f.rule) },
        { title: "Subject", cell: (f) => h("span", { class: "mono" }, f.subject) },
        { title: "What", cell: (f) => f.summary },
      ], flags, { empty: empty("No open hardware discrepancy on this node.") })),
      card(`Accelerators (${accels.length})`, { id: "node-accelerators" }, table([
        { title: "PCI address", cell: (a) => h("span", { class: "mono" }, a.pci_address) },
        { title: "Model (catalog)", cell: (a) => (a.model_known ? a.model : h("span", { class: "muted" }, "unknown model")) },
        { title: "PCI ID", cell: (a) => h("span", { class: "mono" }, fmt.pciId(a.vendor_id, a.device_id)) },
        { title: "Agent's name", cell: (a) => (a.name_disagrees
          ? h("span", { class: "bad", title: "disagrees with the catalog's name for this PCI ID" }, `${a.reported_name} ≠`)
          : h("span", { class: "note" }, a.reported_name || "–")) },
        { title: "Serial", cell: (a) => h("span", { class: "mono" }, a.serial || "–") },
        { title: "UUID", cell: (a) => h("span", { class: "mono note" }, a.uuid || "–") },
      ], accels, { empty: empty("No accelerators in the newest report.") }))),
    h("div", { class: "stack" },
      card("Reports", { id: "node-reports" }, facts([
        ["Hostname", n.hostname], ["Data centre", n.datacenter], ["Region", n.region],
        ["Agent", n.agent_version], ["Boot", h("span", { class: "mono" }, n.boot_id || "–")],
        ["First seen", fmt.utc(n.first_seen)], ["Last seen", fmt.utc(n.last_seen)],
        ["Reports stored", fmt.count(Number(n.reports_stored || 0))],
        ["Reports refused", fmt.count(Number(n.reports_rejected || 0))],
        ["Evidence gaps", `${fmt.count(Number(n.evidence_gaps || 0))} (${Math.round(Number(n.evidence_gap_seconds || 0))} s)`],
      ])))));
  return {};
}
