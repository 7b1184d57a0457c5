// hardware_cloned_identity: one accelerator identity (serial, else UUID) reported by two nodes
// over the same time: their current runs of sightings (a run ends after one silence window
// without the card) overlap. A card cannot be in two servers at once: a forged or copied
// identity (an agent or firmware lying about its serial). A move, however quick, leaves the old
// node's run ended before the new one starts (the old node's reports stop listing the card), so
// it is hardware_moved's business, not this rule's; a card moved away and back starts a new run.
// Judged on report times, whatever order the reports arrived in, and only while both nodes list
// the card on provd's clock (a node whose clock lags cannot make an old run look current): two
// clones reporting every interval overlap within one interval. Needs no inventory.
#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"
#include "server/analysis/hardware_facts.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

class HardwareClonedIdentityRule final : public Rule {
 public:
  absl::string_view name() const override { return kHardwareClonedRule; }
  void Evaluate(RuleContext& ctx) override {
    HardwareState& hw = ctx.s.hw;
    for (const auto& [key, node_id] : ctx.shared_identities) {
      auto where = hw.cards.find(key);
      if (where == hw.cards.end() || where->second.size() < 2) continue;
      const CardSighting* here = FindSighting(hw, key, node_id);
      auto facts = ctx.s.nodes.find(node_id);
      if (here == nullptr || facts == ctx.s.nodes.end()) continue;
      const provenance::v1::AcceleratorFact* card = nullptr;
      for (const auto& a : facts->second.accelerators()) {
        if (CardKey(a) == key) card = &a;
      }
      if (card == nullptr) continue;
      for (const CardSighting& other : where->second) {
        if (other.node == node_id) continue;
        // The gap between the two nodes' runs of sightings (<= 0: they overlap).
        const int64_t gap =
            std::max(here->first_us, other.first_us) - std::min(here->last_us, other.last_us);
        if (gap > 0) continue;
        // And both current on provd's clock: each node listed it within its silence window of
        // now. Report times come from each node's own clock; a node whose clock lags would make
        // a move's two runs "overlap", but the old node stopped listing the card long ago.
        auto other_node = hw.nodes.find(other.node);
        const int64_t other_window =
            RunWindow(ctx.p, other_node == hw.nodes.end() ? 0 : other_node->second.interval_us);
        if (other.seen_us < SilenceClock(ctx) - other_window) continue;
        Raise(ctx, key, *card, *here, other);
      }
    }
  }

 private:
  static void Raise(RuleContext& ctx, const std::string& key,
                    const provenance::v1::AcceleratorFact& a, const CardSighting& here,
                    const CardSighting& other) {
    const std::string first = std::min(here.node, other.node);
    const std::string second = std::max(here.node, other.node);
    const int64_t first_us = std::max(here.first_us, other.first_us);
    const int64_t last_us = std::max(here.last_us, other.last_us);
    auto dc = [&](const std::string& n) {
      auto it = ctx.s.nodes.find(n);
      return it == ctx.s.nodes.end() ? std::string() : it->second.datacenter();
    };
    UpsertFlag(
        ctx.s, kHardwareClonedRule, absl::StrCat("accelerator:", key),
        ctx.p.hardware.cloned_identity_severity, absl::StrCat(first, "|", second),
        [&] { return first_us; }, last_us, ctx.now,
        [&](Flag& f) {
          Reopen(f);
          f.set_policy_version(ctx.p.version);
          f.clear_nodes();
          f.add_nodes(first);
          f.add_nodes(second);
          f.clear_datacenters();
          AddUnique(f.mutable_datacenters(), dc(first));
          AddUnique(f.mutable_datacenters(), dc(second));
          f.clear_accelerators();
          f.add_accelerators(absl::StrCat(other.node, "/", other.pci));
          f.add_accelerators(absl::StrCat(here.node, "/", here.pci));
          f.set_summary(absl::StrCat("Accelerator identity ", key,
                                     " reported by two nodes at once: ", first, " and ", second,
                                     " (a forged or copied identity)"));
          f.clear_evidence();
          auto* e = f.add_evidence();
          e->set_kind("hardware");
          e->set_sentence(absl::StrCat(
              "Identity ", key, " (", DescribeObserved(ctx.s.hw, here.node, a),
              ") was reported by ", other.node, " at ", other.pci, " from ",
              ClockText(other.first_us), " to ", ClockText(other.last_us), " and by ", here.node,
              " at ", here.pci, " from ", ClockText(here.first_us), " to ", ClockText(here.last_us),
              ": the two spans overlap. One card cannot be in two servers at once."));
          SetTimestamp(e->mutable_time(), first_us);
        });
  }
};

}  // namespace

std::unique_ptr<Rule> MakeHardwareClonedIdentityRule() {
  return std::make_unique<HardwareClonedIdentityRule>();
}

}  // namespace prov::server
