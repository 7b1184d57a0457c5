// Pieces the flag and bundle pages share: accounts with their KYC, the compute figures, the
// evidence links as a graph, a timeline and a table.
import { api } from "../api.js";
import { evidenceGraph, timeline } from "../charts.js";
import { accountLink, card, empty, facts, h, table } from "../dom.js";
import * as fmt from "../format.js";

// GetAccount for each account (at most 24), in parallel; a 404 means "no KYC record".
export async function loadAccounts(ids) {
  const list = ids.slice(0, 24);
  const answers = await Promise.all(list.map((id) =>
    api(`/api/accounts/${encodeURIComponent(id)}`).catch((e) => ({ missing: e.status === 404, error: e }))));
  return new Map(list.map((id, i) => [id, answers[i]]));
}

export function screeningHits(accounts) {
  const hits = new Set();
  for (const [id, a] of accounts) if (a && (a.screening || []).length) hits.add(id);
  return hits;
}

export function accountsCard(ids, accounts) {
  const rows = ids.map((id) => ({ id, a: accounts.get(id) }));
  return card("Accounts and their KYC", { id: "accounts-kyc" }, table([
    { title: "Account", cell: (r) => accountLink(r.id) },
    { title: "Legal entity", cell: (r) => (r.a && r.a.identity ? r.a.identity.legal_entity || "–"
      : h("span", { class: "muted" }, r.a && r.a.missing ? "no KYC record" : "not loaded")) },
    { title: "Country", cell: (r) => (r.a && r.a.identity && r.a.identity.country_of_incorporation) || "–" },
    { title: "Parent / reseller", cell: (r) => {
      const id = r.a && r.a.identity;
      if (!id) return "–";
      return [id.parent_account ? accountLink(id.parent_account) : "–", id.is_reseller ? h("span", { class: "tag" }, "reseller") : null];
    } },
    { title: "Screening", cell: (r) => {
      const n = r.a && r.a.screening ? r.a.screening.length : 0;
      return n ? h("span", { class: "tag tag-restricted" }, fmt.plural(n, "hit")) : "none";
    } },
    { title: "KYC version", cls: "num", cell: (r) => (r.a && Number(r.a.kyc_version) ? r.a.kyc_version : "–") },
  ], rows, { empty: empty("No accounts.") }),
  ids.length > 24 ? h("p", { class: "note" }, `KYC shown for the first 24 of ${ids.length} accounts.`) : null);
}

export function computeFacts(flop, extra = []) {
  return facts([
    ["Estimated training FLOP", flop && Number(flop.high) ? h("strong", { id: "compute-range" }, fmt.flopRange(flop)) : "–"],
    ["Method", flop && flop.method ? h("span", { class: "mono" }, flop.method) : "–"],
    ...extra,
  ]);
}

export function chips(values, render = (v) => v) {
  if (!values || !values.length) return "–";
  return h("div", { class: "chips" }, values.slice(0, 60).map((v) => h("span", { class: "chip mono" }, render(v))),
    values.length > 60 ? h("span", { class: "note" }, `+${values.length - 60} more`) : null);
}

export function graphCard(accountIds, links, hits) {
  const body = links.length
    ? [evidenceGraph(accountIds, links, { hits }),
      h("p", { class: "note" }, "Accounts are nodes (red: screening hit); each edge joins two accounts, labelled with the kinds of evidence and their combined score 1 − Π(1 − weight). Click an account to open it.")]
    : [empty("No evidence links.", "This flag rests on its evidence chain alone (a single account or node).")];
  return card("Evidence graph", { id: "graph-card" }, ...body);
}

export function timelineCard(links, flag) {
  const t = timeline(links, flag);
  return card("Timeline", { id: "timeline-card" }, t || empty("No evidence times recorded."));
}

export function linksCard(links) {
  return card(`Evidence links (${links.length})`, { id: "links-card" }, table([
    { title: "Kind", cls: "nowrap", cell: (l) => h("span", { class: "mono" }, l.kind) },
    { title: "Accounts", cls: "nowrap", cell: (l) => [h("div", {}, accountLink(l.account_a)), h("div", {}, accountLink(l.account_b))] },
    { title: "Weight", cls: "num", cell: (l) => Number(l.weight).toFixed(2) },
    { title: "First / last seen", cls: "nowrap", cell: (l) => [fmt.utc(l.first_time, { seconds: false }), h("br"), fmt.utc(l.last_time, { seconds: false })] },
    { title: "Evidence", cell: (l) => l.sentence },
  ], links.slice(0, 200), { empty: empty("No links.") }),
  links.length > 200 ? h("p", { class: "note" }, `First 200 of ${links.length} links.`) : null);
}
