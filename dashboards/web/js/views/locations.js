// Fleet locations (#/locations?verdict=...): every node's newest location verdict, most serious
// first, each linking to its map (LocationService.ListNodeLocations, docs/location.md).
import { api } from "../api.js";
import { card, empty, h, table } from "../dom.js";
import * as fmt from "../format.js";
import { locationLink, verdictBadge, verdictName } from "./location.js";

const ORDER = { contradicted: 0, unverified: 1, verified: 2 };

export async function render(container, route) {
  const verdict = route.query.get("verdict") || "";
  const root = h("div", { id: "locations" });
  container.append(root);
  const query = { limit: 1000 };
  if (verdict) query.verdict = `LOCATION_VERDICT_${verdict.toUpperCase()}`;
  const res = await api("/api/locations", { query });
  const nodes = (res.nodes || []).slice().sort((a, b) =>
    (ORDER[verdictName(a.verdict)] ?? 3) - (ORDER[verdictName(b.verdict)] ?? 3) ||
    a.node_id.localeCompare(b.node_id));
  const select = h("select", { id: "locations-verdict", "aria-label": "Verdict" },
    ["", "contradicted", "unverified", "verified"].map((v) =>
      h("option", { value: v, selected: v === verdict }, v || "every verdict")));
  select.addEventListener("change", () => {
    window.location.hash = `#/locations${select.value ? `?verdict=${select.value}` : ""}`;
  });
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Node locations"),
    h("span", { class: "sub" }, fmt.plural(nodes.length, "node"), res.next_after_node_id ? " (first 1,000)" : "")));
  root.append(card("Verdicts", { id: "locations-card" }, h("div", { class: "filters" }, select),
    table([
      { title: "Node", cell: (n) => locationLink(n.node_id) },
      { title: "Data centre", cell: (n) => n.datacenter || "–" },
      { title: "Verdict", cell: (n) => verdictBadge(n.verdict) },
      { title: "Proof required", cell: (n) => (n.proof_required ? "yes" : "no") },
      { title: "Fresh disks", cls: "num", cell: (n) => `${(n.disks || []).filter((d) => d.fresh).length}/${(n.disks || []).length}` },
      { title: "Evaluated", cls: "nowrap", cell: (n) => fmt.utc(n.evaluated_at) },
      { title: "Reason", cell: (n) => n.reason || "–" },
    ], nodes, { attrs: { id: "locations-table" },
      empty: empty("No location verdicts.", "provd evaluates a node once landmarks measure it (provd --location-config, prov-landmark).") })));
}
