// Location rules (issue 11): the location hub (server/location/location_hub.h) judges each node's
// verdict from signed landmark records and sends a NodeEvent when it changes; these rules turn
// them into flags a person can act on.
//   location_contradicted   some fresh disk excludes the declared site: the node is provably not
//                           where it is declared. Resolves itself only when newer fresh
//                           measurements verify the site (a node whose measurements merely go
//                           stale stays flagged), like hardware_silent when the node reports.
//   location_unverified     nothing close or fresh enough proves the site, where the policy's
//                           location.require_proof covers the node's datacenter or region;
//                           resolves when verified or no longer required. Names the landmark that
//                           would prove it.
//   location_answer_forged  a record whose node answer does not verify against the node's key, or
//                           a landmark that received invalid answers for it; each occurrence adds
//                           evidence (the newest 20 kept), rewritten at most once a minute.
// The rules keep no state: what they need travels in the event, and open flags are found by key.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

constexpr int kMaxForgedEvidence = 20;
constexpr char kEvidenceKind[] = "location";

void FillCommon(Flag& f, const NodeEvent& e, const policy::Policy& p, int64_t at_us) {
  Reopen(f);
  f.set_policy_version(p.version);
  f.clear_nodes();
  f.add_nodes(e.node_id);
  f.clear_datacenters();
  if (!e.location.datacenter.empty()) f.add_datacenters(e.location.datacenter);
  f.clear_evidence();
  for (const std::string& sentence : e.location.sentences) {
    auto* ev = f.add_evidence();
    ev->set_kind(kEvidenceKind);
    ev->set_sentence(sentence);
    SetTimestamp(ev->mutable_time(), at_us);
  }
}

void Verdict(RuleContext& ctx, const NodeEvent& e) {
  const std::string subject = absl::StrCat("node:", e.node_id);
  const int64_t at_us = absl::ToUnixMicros(e.time);
  const policy::LocationPolicy& lp = ctx.p.location;
  if (e.detail == "contradicted") {
    UpsertFlag(
        ctx.s, kLocationContradictedRule, subject, lp.severity_contradicted,
        absl::StrCat("contradicted|", absl::StrJoin(e.location.landmarks, ",")),
        [&] { return at_us; }, at_us, ctx.now,
        [&](Flag& f) {
          FillCommon(f, e, ctx.p, at_us);
          f.set_summary(absl::StrCat("Node ", e.node_id, " is provably not at ",
                                     e.location.datacenter, ": ", e.location.summary));
        });
  } else if (e.detail == "verified") {
    ResolveFlag(ctx.s, kLocationContradictedRule, subject, "recovered",
                absl::StrCat("Newer fresh measurements verify node ", e.node_id, " at ",
                             e.location.datacenter, ": ", e.location.summary),
                "resolved itself: fresh measurements agree with the declared site", ctx.now_us);
  }
  if (e.detail == "unverified" && e.location.proof_required) {
    UpsertFlag(
        ctx.s, kLocationUnverifiedRule, subject, lp.severity_unverified,
        absl::StrCat("unverified|", e.location.needed_landmark), [&] { return at_us; }, at_us,
        ctx.now,
        [&](Flag& f) {
          FillCommon(f, e, ctx.p, at_us);
          f.set_summary(
              absl::StrCat("Node ", e.node_id, " at ", e.location.datacenter,
                           " has no location proof the policy requires: ", e.location.summary,
                           e.location.needed_landmark.empty()
                               ? std::string()
                               : absl::StrCat(" Needed: fresh records from landmark ",
                                              e.location.needed_landmark, ".")));
        });
  } else {
    ResolveFlag(ctx.s, kLocationUnverifiedRule, subject,
                e.detail == "verified" ? "recovered" : "reconciled",
                e.detail == "verified"
                    ? absl::StrCat("Node ", e.node_id, " verified: ", e.location.summary)
                    : absl::StrCat("The policy no longer requires proof for node ", e.node_id, " (",
                                   e.location.datacenter, ")"),
                e.detail == "verified" ? "resolved itself: the site is verified"
                                       : "resolved: proof no longer required",
                ctx.now_us);
  }
}

void Forged(RuleContext& ctx, const NodeEvent& e) {
  const int64_t at_us = absl::ToUnixMicros(e.time);
  UpsertFlag(
      ctx.s, kLocationForgedRule, absl::StrCat("node:", e.node_id), ctx.p.location.severity_forged,
      absl::StrCat(e.detail, "|", at_us / 60'000'000), [&] { return at_us; }, at_us, ctx.now,
      [&](Flag& f) {
        Reopen(f);
        f.set_policy_version(ctx.p.version);
        if (f.nodes().empty()) f.add_nodes(e.node_id);
        if (f.datacenters().empty() && !e.location.datacenter.empty()) {
          f.add_datacenters(e.location.datacenter);
        }
        for (const std::string& sentence : e.location.sentences) {
          auto* ev = f.add_evidence();
          ev->set_kind(kEvidenceKind);
          ev->set_sentence(sentence);
          SetTimestamp(ev->mutable_time(), at_us);
        }
        auto* evidence = f.mutable_evidence();
        while (evidence->size() > kMaxForgedEvidence) evidence->erase(evidence->begin());
        f.set_summary(absl::StrCat("Landmark ", e.detail, " received answers for node ", e.node_id,
                                   " that its key did not sign (newest at ", ClockText(at_us),
                                   "): a relay, a replay or another machine answering for it"));
      });
}

class LocationRule final : public Rule {
 public:
  absl::string_view name() const override { return kLocationContradictedRule; }
  void Evaluate(RuleContext& ctx) override {
    for (const NodeEvent& e : ctx.s.location_events) {
      if (e.kind == NodeEvent::Kind::kLocationVerdict) Verdict(ctx, e);
      if (e.kind == NodeEvent::Kind::kLocationForged) Forged(ctx, e);
    }
    ctx.s.location_events.clear();
  }
};

}  // namespace

std::unique_ptr<Rule> MakeLocationRule() { return std::make_unique<LocationRule>(); }

}  // namespace prov::server
