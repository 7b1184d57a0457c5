// Bundle detail: a suspected training lineage (accounts joined by evidence), its compute, where
// it ran, its links as a graph, a timeline and a table, and the flags raised on it.
import { api } from "../api.js";
import { card, clear, facts, h, link, severityBadge, statusPill, table, empty } from "../dom.js";
import * as fmt from "../format.js";
import { accountsCard, chips, computeFacts, graphCard, linksCard, loadAccounts, screeningHits,
  timelineCard } from "./evidence.js";

async function draw(root, id) {
  const res = await api(`/api/bundles/${encodeURIComponent(id)}`);
  const b = res.bundle;
  const links = res.links || [];
  const accounts = await loadAccounts(b.accounts || []);
  clear(root);
  root.append(h("div", { class: "page-head" }, h("h1", {}, `Bundle ${b.bundle_id}`),
    h("span", { class: "sub" }, `${fmt.plural((b.accounts || []).length, "account")} · ${fmt.plural(b.link_count, "link")} · score ${Number(b.score).toFixed(2)}`),
    b.merged_into ? h("span", { class: "tag" }, `merged into ${b.merged_into}`) : null));
  const flags = res.flags || [];
  root.append(h("div", { class: "grid grid-main-side" },
    h("div", { class: "stack" },
      card(`Flags on this bundle (${flags.length})`, { id: "bundle-flags" }, table([
        { title: "Flag", cell: (f) => link(`#/flag/${encodeURIComponent(f.flag_id)}`, f.flag_id, { class: "mono" }) },
        { title: "Severity", cell: (f) => severityBadge(f.severity) },
        { title: "Status", cell: (f) => statusPill(f.status) },
        { title: "Summary", cell: (f) => f.summary },
      ], flags, { empty: empty("No flag on this bundle (yet).") })),
      accountsCard(b.accounts || [], accounts),
      graphCard(b.accounts || [], links, screeningHits(accounts)),
      timelineCard(links, null),
      linksCard(links)),
    h("div", { class: "stack" },
      card("Cumulative compute", {}, computeFacts(b.training_flop, [
        ["Training accelerator-hours", fmt.hours(b.training_accelerator_hours)],
        ["Rate (low, recent)", `${fmt.eng(b.flop_rate_per_day)} FLOP/day`],
        ["Accelerators used", fmt.count(b.accelerator_count)],
      ])),
      card("Where", {}, facts([
        ["Data centres", chips(b.datacenters)], ["Regions", chips(b.regions)],
        ["Nodes", chips(b.nodes)], ["Models", chips(b.accelerator_models)],
        ["First evidence", fmt.utc(b.first_time)], ["Last evidence", fmt.utc(b.last_time)],
      ])),
      card(`Workloads (${(b.workloads || []).length})`, {}, chips(b.workloads)))));
}

export async function render(container, route) {
  const id = route.params[0];
  const root = h("div", { id: "bundle-detail" });
  container.append(root);
  await draw(root, id);
  return {
    onEvent(ev) {
      if ((ev.type === "flag" && ev.data.bundle_id === id) || ev.type === "resync") draw(root, id).catch(() => {});
    },
  };
}
