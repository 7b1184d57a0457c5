// Analyzer, node rules: node_reports_rejected (issue 14). A tenant with root on a rented node can
// make every report its agent sends unparseable or refusable while the stream stays open: the node
// looks alive and its compute leaves the ledger. The ingest writer records each round of refusals
// on the node's row and sends the row's state here (NodeEvent::kRejections); a spell of nothing but
// refusals lasting the policy's node_health.rejecting_after (provd's clock) raises the flag, a
// stored report ends the spell and resolves it with a note. A new spell reopens it.
#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "server/analysis/analyzer.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

constexpr int kMaxSpellsInEvidence = 10;
constexpr char kSpellEvidence[] = "rejections";

std::string Minutes(int64_t us) { return absl::StrCat(us / 60'000'000, " min"); }

// The accounts and workloads on the node at its last stored report: who the spell hides.
void FillTenants(const Analyzer::State& s, const std::string& node_id, Flag& f) {
  f.clear_nodes();
  f.add_nodes(node_id);
  f.clear_datacenters();
  f.clear_workloads();
  f.clear_accounts();
  auto node = s.nodes.find(node_id);
  if (node == s.nodes.end()) return;
  if (!node->second.datacenter().empty()) f.add_datacenters(node->second.datacenter());
  std::set<std::string> accounts;
  for (const std::string& key : node->second.current_workloads()) {
    f.add_workloads(key);
    auto w = s.workloads.find(key);
    if (w != s.workloads.end() && !w->second.account().empty())
      accounts.insert(w->second.account());
  }
  for (const std::string& a : accounts) f.add_accounts(a);
}

}  // namespace

void ObserveRejections(Analyzer::State& s, const NodeEvent& e) {
  if (e.since == absl::InfinitePast()) {
    // A report was stored after the newest refusal: no spell (NodeReportStored ended it).
    if (s.rejecting.erase(e.node_id) > 0 || s.rejecting_flagged.contains(e.node_id)) {
      s.dirty_rejecting.insert(e.node_id);
    }
    return;
  }
  const int64_t since_us = absl::ToUnixMicros(e.since);
  RejectingSpell& spell = s.rejecting[e.node_id];
  if (spell.since_us != since_us) {
    spell = RejectingSpell();
    spell.since_us = since_us;
  }
  spell.count += e.count;
  spell.last_us = std::max(spell.last_us, absl::ToUnixMicros(e.time));
  spell.total = std::max(spell.total, e.total);
  spell.reason = e.detail;
  s.dirty_rejecting.insert(e.node_id);
}

void NodeReportStored(Analyzer::State& s, const std::string& node_id) {
  if (s.rejecting.empty() && s.rejecting_flagged.empty()) return;  // the common case: one check
  const bool was = s.rejecting.erase(node_id) > 0;
  if (was || s.rejecting_flagged.contains(node_id)) s.dirty_rejecting.insert(node_id);
}

namespace {

// node_reports_rejected: judged on the nodes whose spell changed since the last evaluation.
class NodeRejectedRule final : public Rule {
 public:
  absl::string_view name() const override { return kNodeRejectedRule; }
  void Evaluate(RuleContext& ctx) override { EvaluateNodeHealth(ctx.s, ctx.p, ctx.now); }

 private:
  static void EvaluateNodeHealth(Analyzer::State& s, const policy::Policy& p, absl::Time now);
};

}  // namespace

std::unique_ptr<Rule> MakeNodeRejectedRule() { return std::make_unique<NodeRejectedRule>(); }

void NodeRejectedRule::EvaluateNodeHealth(Analyzer::State& s, const policy::Policy& p,
                                          absl::Time now) {
  const int64_t now_us = absl::ToUnixMicros(now);
  const int64_t after_us = absl::ToInt64Microseconds(p.node_health.rejecting_after);
  for (const std::string& node_id : s.dirty_rejecting) {
    const std::string subject = absl::StrCat("node:", node_id);
    auto spell_it = s.rejecting.find(node_id);
    if (spell_it == s.rejecting.end()) {
      // The spell ended with a stored report: resolve the flag (a person's acknowledged or
      // escalated case stays theirs; it gets the note only).
      if (!s.rejecting_flagged.erase(node_id)) continue;
      auto id = s.flag_by_key.find(absl::StrCat(kNodeRejectedRule, "|", subject));
      if (id == s.flag_by_key.end()) continue;
      Flag& f = s.flags.at(id->second);
      if (f.status() == provenance::v1::FLAG_STATUS_RESOLVED) continue;
      auto* e = f.add_evidence();
      e->set_kind("recovered");
      e->set_sentence(absl::StrCat("Reports of node ", node_id, " are stored again (seen at ",
                                   ClockText(now_us), ")"));
      SetTimestamp(e->mutable_time(), now_us);
      if (f.status() == provenance::v1::FLAG_STATUS_OPEN) {
        f.set_status(provenance::v1::FLAG_STATUS_RESOLVED);
        f.set_summary(absl::StrCat(f.summary(), "; resolved itself: reports stored again"));
      }
      SetTimestamp(f.mutable_updated_at(), now_us);
      f.set_revision(f.revision() + 1);
      s.flag_material.erase(f.flag_id());  // a new spell rewrites it
      s.changed_flags.insert(f.flag_id());
      continue;
    }
    const RejectingSpell& spell = spell_it->second;
    const int64_t lasted_us = spell.last_us - spell.since_us;
    if (after_us <= 0 || lasted_us < after_us) continue;
    // Rewritten once per rejecting_after of the spell, not on every refusal.
    const std::string material = absl::StrCat(spell.since_us, "|", lasted_us / after_us);
    UpsertFlag(
        s, kNodeRejectedRule, subject, p.node_health.rejecting_severity, material,
        [&] { return spell.since_us; }, spell.last_us, now,
        [&](Flag& f) {
          // The evidence keeps one entry per spell (the newest kMaxSpellsInEvidence), dated by its
          // start; a spell the flag has not seen yet reopens a resolved flag.
          auto* evidence = f.mutable_evidence();
          auto current = std::find_if(evidence->begin(), evidence->end(), [&](const auto& e) {
            return e.kind() == kSpellEvidence && ToMicros(e.time()) == spell.since_us;
          });
          if (current == evidence->end()) {
            if (f.status() == provenance::v1::FLAG_STATUS_RESOLVED) {
              f.set_status(provenance::v1::FLAG_STATUS_OPEN);
              f.set_disposition(provenance::v1::DISPOSITION_UNSPECIFIED);
            }
            // Room for the new spell: the oldest spells go first.
            int spells = 0;
            for (const auto& x : *evidence) spells += x.kind() == kSpellEvidence;
            for (auto it = evidence->begin(); spells >= kMaxSpellsInEvidence;) {
              if (it->kind() == kSpellEvidence) {
                it = evidence->erase(it);
                --spells;
              } else {
                ++it;
              }
            }
            auto* e = f.add_evidence();
            e->set_kind(kSpellEvidence);
            SetTimestamp(e->mutable_time(), spell.since_us);
            current = evidence->end() - 1;
          }
          const std::string sentence = absl::StrCat(
              "Every report of node ", node_id, " since ", ClockText(spell.since_us),
              " was refused (", Minutes(lasted_us), "; ", spell.count,
              " refused in this spell as seen by this provd, ", spell.total,
              " over the node's life; the newest at ", ClockText(spell.last_us), ": ", spell.reason,
              "). The node keeps sending, so it looks alive, but none of its compute since then is "
              "in the ledger.");
          current->set_sentence(sentence);
          f.set_policy_version(p.version);
          FillTenants(s, node_id, f);
          f.set_summary(absl::StrCat(
              "Node ", node_id, ": every report refused for ", Minutes(lasted_us), " (since ",
              ClockText(spell.since_us), "; newest reason: ", spell.reason, ")",
              f.accounts().empty() ? ""
                                   : absl::StrCat("; tenants at its last stored report: ",
                                                  absl::StrJoin(f.accounts(), ", "))));
        });
    s.rejecting_flagged.insert(node_id);
  }
  s.dirty_rejecting.clear();
}

}  // namespace prov::server
