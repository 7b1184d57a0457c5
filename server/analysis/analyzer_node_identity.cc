// Analyzer, node rules: node_identity_mismatch (issue 10 §1). With --node-identity=cert provd binds
// every agent stream to the node its client certificate names; a report of another node ends the
// stream, and the ingest writer sends each round of such refusals here
// (NodeEvent::kIdentityMismatch). A node's certificate speaking for another node is a stolen,
// copied or shared certificate (or a badly configured --node-id): an incident, raised at once on
// the certificate's node with the node it claimed to be. The flag is rewritten at most once a
// minute per claimed node (the audit log's node.identity_mismatch entries hold every round); a
// resolved flag reopens on a new refusal.
#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/analysis/analyzer.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

constexpr int kMaxEvidence = 20;
constexpr char kEvidenceKind[] = "identity";

void RaiseIdentityMismatch(Analyzer::State& s, const policy::Policy& p, const NodeEvent& e);

// node_identity_mismatch: every refusal round observed since the last evaluation, at once.
class NodeIdentityMismatchRule final : public Rule {
 public:
  absl::string_view name() const override { return kNodeIdentityMismatchRule; }
  void Evaluate(RuleContext& ctx) override {
    for (const NodeEvent& e : ctx.s.identity_mismatches) RaiseIdentityMismatch(ctx.s, ctx.p, e);
    ctx.s.identity_mismatches.clear();
  }
};

}  // namespace

std::unique_ptr<Rule> MakeNodeIdentityMismatchRule() {
  return std::make_unique<NodeIdentityMismatchRule>();
}

void ObserveIdentityMismatch(Analyzer::State& s, const NodeEvent& e) {
  s.identity_mismatches.push_back(e);
}

namespace {

void RaiseIdentityMismatch(Analyzer::State& s, const policy::Policy& p, const NodeEvent& e) {
  const std::string& node_id = e.node_id;
  const std::string& claimed = e.detail;
  const int64_t last_us = absl::ToUnixMicros(e.time);
  const int64_t first_us =
      e.since == absl::InfinitePast() ? last_us : std::min(last_us, absl::ToUnixMicros(e.since));
  const std::string material = absl::StrCat(claimed, "|", last_us / 60'000'000);
  UpsertFlag(
      s, kNodeIdentityMismatchRule, absl::StrCat("node:", node_id),
      p.node_health.identity_mismatch_severity, material, [&] { return first_us; }, last_us, e.time,
      [&](Flag& f) {
        if (f.status() == provenance::v1::FLAG_STATUS_RESOLVED) {
          f.set_status(provenance::v1::FLAG_STATUS_OPEN);
          f.set_disposition(provenance::v1::DISPOSITION_UNSPECIFIED);
        }
        auto* evidence = f.mutable_evidence();
        auto* added = f.add_evidence();
        added->set_kind(kEvidenceKind);
        SetTimestamp(added->mutable_time(), last_us);
        added->set_sentence(absl::StrCat(
            "An agent stream with node ", node_id, "'s client certificate sent reports as node \"",
            claimed, "\": ", e.count, " stream(s) refused between ", ClockText(first_us), " and ",
            ClockText(last_us),
            ". A node's certificate speaks only for that node: a stolen, copied or "
            "shared certificate, or an agent whose --node-id is not its own."));
        int kept = 0;
        for (const auto& x : *evidence) kept += x.kind() == kEvidenceKind;
        for (int i = 0; kept > kMaxEvidence && i < evidence->size();) {
          if ((*evidence)[i].kind() == kEvidenceKind) {
            evidence->erase(evidence->begin() + i);
            --kept;
          } else {
            ++i;
          }
        }
        if (std::find(f.nodes().begin(), f.nodes().end(), node_id) == f.nodes().end()) {
          f.add_nodes(node_id);
        }
        if (std::find(f.nodes().begin(), f.nodes().end(), claimed) == f.nodes().end()) {
          f.add_nodes(claimed);
        }
        auto node = s.nodes.find(node_id);
        if (node != s.nodes.end() && !node->second.datacenter().empty() &&
            std::find(f.datacenters().begin(), f.datacenters().end(), node->second.datacenter()) ==
                f.datacenters().end()) {
          f.add_datacenters(node->second.datacenter());
        }
        f.set_policy_version(p.version);
        f.set_summary(absl::StrCat("Node ", node_id,
                                   "'s client certificate was used to report as node ", claimed,
                                   " (newest at ", ClockText(last_us),
                                   "); if it is not a misconfiguration, revoke it: provctl "
                                   "nodes revoke ",
                                   node_id));
      });
}

}  // namespace
}  // namespace prov::server
