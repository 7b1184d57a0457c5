// The hardware page's inventory view (issue 10): the declared inventory against what the agents
// report, per data centre and rack, one data centre and one page at a time (a 20k-node fleet is
// never loaded whole), every row linked to the open hardware_* flags about its serial or node.
// State is in the address (#/hardware?dc=fra1&rack=r07), so a view can be bookmarked.
import { api } from "../api.js";
import { card, clear, empty, errorBox, h, link, severityBadge, statusPill, table } from "../dom.js";
import * as fmt from "../format.js";
import { nodeLink } from "./node.js";
import { flagsForRow, HARDWARE_RULES, indexBySubject, isOpenHardwareFlag } from "./inventory_flags.js";

const PAGE_SIZE = 100;
const FLAG_LIMIT = 5000;  // per rule and data centre

function statusName(s) {
  return String(s || "INVENTORY_STATUS_UNSPECIFIED").replace("INVENTORY_STATUS_", "").toLowerCase();
}

function flagLinks(flags) {
  return flags.length ? flags.map((f) => h("div", { class: "nowrap" },
    link(`#/flag/${encodeURIComponent(f.flag_id)}`, f.flag_id, { class: "mono inventory-flag-link" }), " ",
    h("span", { class: "note" }, f.rule.replace("hardware_", "")))) : h("span", { class: "muted" }, "–");
}

function countColumns(first) {
  return [first,
    { title: "Declared", cls: "num", cell: (p) => fmt.count(p.declared || 0) },
    { title: "In service", cls: "num", cell: (p) => fmt.count(p.in_service || 0) },
    { title: "Nodes", cls: "num", cell: (p) => fmt.count(p.nodes || 0) },
    { title: "Observed", cls: "num", cell: (p) => fmt.count(p.observed || 0) },
    { title: "Seen elsewhere", cls: "num", cell: (p) => (p.observed_elsewhere ? h("span", { class: "bad" }, fmt.count(p.observed_elsewhere)) : "0") },
    { title: "In service, never seen", cls: "num", cell: (p) => (p.in_service_unseen ? h("span", { class: "bad" }, fmt.count(p.in_service_unseen)) : "0") }];
}

async function hardwareFlags(dc) {
  const lists = await Promise.all(HARDWARE_RULES.map((rule) =>
    api("/api/flags", { query: { rule, datacenter: dc, limit: FLAG_LIMIT } })));
  const flags = lists.flatMap((l) => l.flags || []).filter(isOpenHardwareFlag);
  return { flags, truncated: lists.some((l) => (l.flags || []).length >= FLAG_LIMIT) };
}

function declaredCell(d) {
  return [nodeLink(d.node_id),
    h("div", {}, d.declared_model || "–", d.vendor_id ? h("span", { class: "note mono" }, ` ${fmt.pciId(d.vendor_id, d.device_id || 0)}`) : null),
    h("div", { class: "note" }, statusName(d.status), d.account ? ` · rented to ${d.account}` : " · not rented")];
}

function observedCell(r) {
  const o = r.last_observed;
  if (!o) {
    return h("span", { class: r.entry.declared.status === "INVENTORY_STATUS_IN_SERVICE" ? "bad" : "muted" }, "never");
  }
  return [nodeLink(o.node_id), o.datacenter ? h("span", { class: "note" }, ` ${o.datacenter}`) : null,
    h("div", {}, o.accelerator.model || h("span", { class: "muted" }, "unknown model"),
      h("span", { class: "note mono" }, ` ${fmt.pciId(o.accelerator.vendor_id, o.accelerator.device_id)} ${o.accelerator.pci_address}`)),
    h("div", { class: "note" }, `last seen ${fmt.utc(o.last_seen, { seconds: false })}`)];
}

function rowsTable(rows, index) {
  return table([
    { title: "Serial", cell: (r) => [h("span", { class: "mono" }, r.entry.declared.serial),
      h("div", { class: "note" }, `rack ${r.entry.declared.rack || "–"}`)] },
    { title: "Declared (node, model, status)", cell: (r) => declaredCell(r.entry.declared) },
    { title: "Last observed (node, as what)", cell: observedCell },
    { title: "Differences", cell: (r) => ((r.differences || []).length
      ? (r.differences).map((d) => h("div", { class: "bad" }, d)) : h("span", { class: "muted" }, "none")) },
    { title: "Open flags", cell: (r) => flagLinks(flagsForRow(index, r)) },
  ], rows, {
    empty: empty("No declared accelerators here."),
    attrs: { id: "inventory-rows" },
    rowAttrs: (r) => ({ "data-serial": r.entry.declared.serial }),
  });
}

async function drawDatacenter(slot, state, ctx, redraw) {
  const [view, flagged] = await Promise.all([
    api("/api/inventory-view", { query: { datacenter: state.dc, rack: state.rack, page_size: PAGE_SIZE, page_token: state.token } }),
    hardwareFlags(state.dc)]);
  const index = indexBySubject(flagged.flags);
  const rows = view.rows || [];
  const pageNo = state.history.length + 1;
  const go = (patch) => () => { Object.assign(state, patch); redraw(); };
  const pager = h("div", { class: "pager", id: "inventory-pager" },
    h("button", { class: "secondary", id: "inventory-prev", disabled: pageNo === 1 ? true : null,
      onclick: () => { state.token = state.history.pop() || ""; redraw(); } }, "Previous"),
    h("span", { class: "note", id: "inventory-page" }, ` page ${pageNo} · ${fmt.plural(rows.length, "row")} `),
    h("button", { class: "secondary", id: "inventory-next", disabled: view.next_page_token ? null : true,
      onclick: () => { state.history.push(state.token); state.token = view.next_page_token; redraw(); } }, "Next"));
  clear(slot).append(
    h("p", {}, link("#/hardware", "All data centres", { onclick: (e) => { e.preventDefault(); go({ dc: "", rack: "", token: "", history: [] })(); } }),
      ` › ${state.dc}${state.rack ? ` › rack ${state.rack}` : ""}`),
    h("p", { id: "inventory-observed" }, `${fmt.plural(view.observed_accelerators || 0, "accelerator")} reported by ${state.dc}'s nodes, `,
      h("span", { class: view.observed_undeclared ? "bad" : "" }, `${fmt.count(view.observed_undeclared || 0)} not in the inventory`), "."),
    h("h3", {}, "Racks"),
    table(countColumns({ title: "Rack", cell: (p) => p.rack || h("span", { class: "muted" }, "(none)") }), view.places || [], {
      empty: empty(`Nothing declared in ${state.dc}.`),
      attrs: { id: "inventory-racks" },
      rowAttrs: (p) => ({ class: `clickable${p.rack === state.rack ? " selected" : ""}`, title: "Only this rack's rows",
        onclick: go({ rack: p.rack === state.rack ? "" : p.rack, token: "", history: [] }) }),
    }),
    h("h3", {}, `Open hardware flags in ${state.dc} (${flagged.flags.length}${flagged.truncated ? "+" : ""})`),
    table([
      { title: "Flag", cell: (f) => link(`#/flag/${encodeURIComponent(f.flag_id)}`, f.flag_id, { class: "mono" }) },
      { title: "Severity", cell: (f) => severityBadge(f.severity) },
      { title: "Status", cell: (f) => statusPill(f.status) },
      { title: "Rule", cell: (f) => h("span", { class: "mono" }, f.rule) },
      { title: "Subject", cell: (f) => h("span", { class: "mono" }, f.subject) },
      { title: "What", cell: (f) => f.summary },
    ], flagged.flags, { empty: empty("No open hardware discrepancy here.",
      "The reconciliation rules (hardware_relabelled, _moved, _cloned_identity, _undeclared, _silent, _assignment) compare this inventory with what the agents report."),
    attrs: { id: "inventory-flags" } }),
    h("h3", {}, state.rack ? `Declared accelerators in rack ${state.rack}` : "Declared accelerators"),
    rowsTable(rows, index), pager);
  ctx.setQuery({ dc: state.dc, rack: state.rack });
}

async function drawSummary(slot, state, ctx, redraw) {
  const view = await api("/api/inventory-view");
  const places = view.places || [];
  clear(slot).append(
    h("p", { class: "note" }, Number(view.inventory_version)
      ? `Inventory version ${view.inventory_version}. Click a data centre for its racks and rows.`
      : "No inventory imported yet."),
    table(countColumns({ title: "Data centre", cell: (p) => p.datacenter || h("span", { class: "muted" }, "(none)") }), places, {
      empty: empty("No declared inventory.", "Import the provider's asset list with provctl inventory import FILE (docs/inventory-format.md)."),
      attrs: { id: "inventory-dcs" },
      rowAttrs: (p) => ({ class: "clickable", "data-dc": p.datacenter,
        onclick: () => { Object.assign(state, { dc: p.datacenter, rack: "", token: "", history: [] }); redraw(); } }),
    }));
  ctx.setQuery({});
}

export function inventoryCard(query, ctx) {
  const slot = h("div", { id: "inventory-body" }, h("p", { class: "note" }, "Loading…"));
  const state = { dc: query.get("dc") || "", rack: query.get("rack") || "", token: "", history: [] };
  const redraw = () => {
    const draw = state.dc ? drawDatacenter : drawSummary;
    draw(slot, state, ctx, redraw).catch((err) => clear(slot).append(errorBox(err)));
  };
  redraw();
  return card("Declared inventory vs observed", { id: "inventory-card" }, slot);
}
