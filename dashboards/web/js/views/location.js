// Node location (#/location/<node_id>): the declared site, the verdict and why, the map of the
// landmarks and their disks (js/geomap.js), and per landmark the RTT, speed, radius, distance to
// the site, inside or not, fresh or not (LocationService.GetNodeLocation, docs/location.md).
import { api } from "../api.js";
import { card, empty, facts, h, s, table } from "../dom.js";
import * as fmt from "../format.js";
import { drawLocationMap, locationMapModel } from "../geomap.js";

export function verdictName(v) {
  return String(v || "").replace("LOCATION_VERDICT_", "").toLowerCase() || "unknown";
}

export function verdictBadge(v) {
  const name = verdictName(v);
  return h("span", { class: `badge loc-${name}`, "data-verdict": name }, name);
}

export function locationLink(id) {
  return h("a", { href: `#/location/${encodeURIComponent(id)}`, class: "mono" }, id);
}

const km = (v) => (Number(v) < 10 ? Number(v).toFixed(1) : String(Math.round(Number(v))));

function site(n) {
  if (!n.datacenter) return "no data centre declared";
  const where = n.site_known && n.declared_site
    ? `${Number(n.declared_site.lat_deg).toFixed(4)}, ${Number(n.declared_site.lon_deg).toFixed(4)}`
    : "no coordinates configured";
  return `${n.datacenter}${n.region ? ` (${n.region})` : ""} · ${where}`;
}

export async function render(container, route) {
  const id = route.params[0];
  const root = h("div", { id: "location-detail" });
  container.append(root);
  const n = await api(`/api/locations/${encodeURIComponent(id)}`);
  const disks = n.disks || [];
  root.append(h("div", { class: "page-head" },
    h("h1", {}, "Location of ", h("span", { class: "mono" }, n.node_id), " ", verdictBadge(n.verdict)),
    h("span", { class: "sub" }, site(n))));
  const unverified = verdictName(n.verdict) === "unverified";
  root.append(card("Verdict", { id: "location-verdict" }, facts([
    ["Verdict", verdictBadge(n.verdict)],
    ["Reason", h("span", { id: "location-reason" }, n.reason || "–")],
    ["Declared site", site(n)],
    ["Proof required", n.proof_required ? "yes (policy location.require_proof)" : "no"],
    unverified ? ["Landmark needed", n.needed_landmark_id
      ? `${n.needed_landmark_id} (${km(n.needed_landmark_distance_km)} km from the site)`
      : "none configured near the site"] : null,
    ["Evaluated", fmt.utc(n.evaluated_at)],
    ["Policy version", n.policy_version || "–"],
  ])));
  root.append(card("Map", { id: "location-map-card" },
    disks.length || n.site_known
      ? [drawLocationMap(locationMapModel(n, { width: 900, height: 480 }), s),
        h("p", { class: "note" }, "Equirectangular projection fitted to the disks. A disk is where the node can be given that landmark's minimum round-trip time: delay can be added, never removed. Hover a disk for its numbers.")]
      : empty("Nothing to draw.", "No coordinates for the declared data centre and no measurements yet.")));
  root.append(card("Landmarks", { id: "location-disks" }, table([
    { title: "Landmark", cell: (d) => h("span", { class: "mono" }, d.landmark_id) },
    { title: "Min RTT ms", cls: "num", cell: (d) => Number(d.rtt_min_ms).toFixed(3) },
    { title: "km/ms", cls: "num", cell: (d) => Number(d.speed_km_per_ms).toFixed(1) },
    { title: "Radius km", cls: "num", cell: (d) => km(d.radius_km) },
    { title: "To site km", cls: "num", cell: (d) => km(d.distance_to_site_km) },
    { title: "Site", cell: (d) => h("span", { class: d.contains_site ? "ok" : "bad" }, d.contains_site ? "inside" : "OUTSIDE") },
    { title: "Fresh", cell: (d) => (d.fresh ? "fresh" : h("span", { class: "note" }, "stale")) },
    { title: "Measured", cls: "nowrap", cell: (d) => fmt.utc(d.measured_at) },
  ], disks, { empty: empty("No measurements yet.", "A node is probed once provd knows its key (a verified client certificate) and its responder address (from its reports).") })));
}
