// Flag detail: what the rule found (summary, evidence chain), accounts and their KYC, data
// centres, workloads, accelerators, cumulative compute with its range and method, and the
// evidence links drawn as a graph and as a timeline; the case panel on the side.
import { api } from "../api.js";
import { card, clear, facts, h, link, severityBadge, statusPill } from "../dom.js";
import * as fmt from "../format.js";
import { renderCase } from "./case.js";
import { accountsCard, chips, computeFacts, graphCard, linksCard, loadAccounts, screeningHits,
  timelineCard } from "./evidence.js";

function evidenceChain(flag) {
  const items = [...(flag.evidence || [])].sort((a, b) => (fmt.millis(a.time) || 0) - (fmt.millis(b.time) || 0));
  return card(`Evidence chain (${items.length})`, { id: "evidence-chain" },
    items.length ? h("ol", { class: "evidence" }, items.map((e) => h("li", { "data-kind": e.kind },
      h("div", {}, h("div", { class: "kind" }, e.kind), h("div", { class: "when" }, fmt.utc(e.time, { seconds: false }))),
      h("div", {}, e.sentence)))) : h("p", { class: "note" }, "No evidence steps recorded."));
}

// `keep` survives re-renders: the case panel is redrawn only when the case itself changed, so a
// live update of the evidence never wipes a note an analyst is typing.
async function draw(root, flagId, ctx, keep) {
  const res = await api(`/api/flags/${encodeURIComponent(flagId)}`);
  const flag = res.flag;
  const bundle = res.bundle && res.bundle.bundle_id ? res.bundle : null;
  const [detail, accounts] = await Promise.all([
    bundle ? api(`/api/bundles/${encodeURIComponent(bundle.bundle_id)}`) : Promise.resolve(null),
    loadAccounts(flag.accounts || []),
  ]);
  const links = detail ? detail.links || [] : (flag.evidence || []).filter((e) => e.link).map((e) => e.link);
  const accountIds = bundle ? bundle.accounts || flag.accounts || [] : flag.accounts || [];

  clear(root);
  root.append(h("div", { class: "page-head" },
    h("h1", { id: "flag-title" }, `${flag.flag_id}`), severityBadge(flag.severity), statusPill(flag.status),
    h("span", { class: "sub mono" }, flag.rule), h("span", { class: "sub" }, `subject ${flag.subject}`)),
  h("p", { class: "summary-line", id: "flag-summary" }, flag.summary));

  const side = h("div", { class: "stack" }, keep.caseSlot,
    card("Cumulative compute", { id: "compute-card" }, computeFacts(flag.training_flop, [
      bundle ? ["Training accelerator-hours", fmt.hours(bundle.training_accelerator_hours)] : null,
      bundle ? ["Rate (low, recent)", `${fmt.eng(bundle.flop_rate_per_day)} FLOP/day`] : null,
      bundle ? ["Accelerators used", fmt.count(bundle.accelerator_count)] : null,
    ])),
    card("Where", { id: "where-card" }, facts([
      ["Data centres", chips(flag.datacenters)],
      ["Regions", bundle ? chips(bundle.regions) : "–"],
      ["Nodes", chips(flag.nodes)],
      ["Accelerators", chips(flag.accelerators)],
      ["Models", bundle ? chips(bundle.accelerator_models) : "–"],
    ])),
    card("Record", {}, facts([
      ["Bundle", bundle ? link(`#/bundle/${encodeURIComponent(bundle.bundle_id)}`, bundle.bundle_id) : "–"],
      ["Evidence from", fmt.utc(flag.first_time)],
      ["Evidence until", fmt.utc(flag.last_time)],
      ["Raised", fmt.utc(flag.raised_at)],
      ["Updated", `${fmt.utc(flag.updated_at)} (revision ${flag.revision})`],
      ["Policy", h("span", { class: "mono" }, flag.policy_version)],
      ["KYC version", Number(flag.kyc_version) ? flag.kyc_version : "–"],
      ["Screening list", flag.screening_list_version ? h("span", { class: "mono" }, flag.screening_list_version) : "–"],
    ])));

  const mainCol = h("div", { class: "stack" },
    evidenceChain(flag),
    accountsCard(flag.accounts || [], accounts),
    graphCard(accountIds, links, screeningHits(accounts)),
    timelineCard(links, flag),
    card(`Workloads (${(flag.workloads || []).length})`, { id: "workloads-card" }, chips(flag.workloads)),
    links.length ? linksCard(links) : null);
  root.append(h("div", { class: "grid grid-main-side" }, mainCol, side));
  const caseKey = [flag.status, flag.disposition, flag.assignee, flag.case_updated_at].join("|");
  if (caseKey !== keep.caseKey) {
    keep.caseKey = caseKey;
    await renderCase(keep.caseSlot, flag.flag_id, ctx, () => {
      keep.caseKey = null;
      return draw(root, flagId, ctx, keep);
    });
  }
}

export async function render(container, route, ctx) {
  const flagId = route.params[0];
  const root = h("div", { id: "flag-detail", "data-flag-id": flagId });
  container.append(root);
  const keep = { caseSlot: h("div", { id: "case-slot" }), caseKey: null };
  await draw(root, flagId, ctx, keep);
  let pending = null;
  const refresh = () => {
    clearTimeout(pending);
    pending = setTimeout(() => draw(root, flagId, ctx, keep).catch(() => {}), 300);
  };
  return {
    onEvent(ev) {
      if ((ev.type === "flag" && ev.data.flag_id === flagId) || ev.type === "resync") refresh();
    },
    destroy() { clearTimeout(pending); },
  };
}
