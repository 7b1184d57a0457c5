// hardware_cloned_identity: one accelerator identity (serial, else UUID) reported by two nodes
// within one silence window of each other (hardware.silent_after_intervals of the later node's
// report interval). A card cannot be in two servers at once, and a physical move takes a power
// cycle of both: a forged or copied identity (an agent or firmware lying about its serial). Judged
// on the report times of the two sightings, whatever order their reports arrived in. Needs no
// inventory.
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
    for (const std::string& node_id : ctx.hardware_nodes) {
      auto facts = ctx.s.nodes.find(node_id);
      if (facts == ctx.s.nodes.end()) continue;
      auto me = hw.nodes.find(node_id);
      const int64_t window =
          SilenceWindow(ctx.p, me == hw.nodes.end() ? 0 : me->second.interval_us);
      for (const auto& a : facts->second.accelerators()) {
        const std::string key = CardKey(a);
        auto where = hw.cards.find(key);
        if (where == hw.cards.end() || where->second.size() < 2) continue;
        const CardSighting* here = nullptr;
        for (const CardSighting& c : where->second) {
          if (c.node == node_id) here = &c;
        }
        if (here == nullptr) continue;
        for (const CardSighting& other : where->second) {
          if (other.node == node_id) continue;
          // The gap between the two nodes' spans of sightings (negative: they overlap).
          const int64_t gap =
              std::max(here->first_us, other.first_us) - std::min(here->last_us, other.last_us);
          if (gap >= window) continue;
          Raise(ctx, key, a, *here, other, gap);
        }
      }
    }
  }

 private:
  // The silence window without the reboot floor: a move needs two power cycles, far longer.
  static int64_t SilenceWindow(const policy::Policy& p, int64_t interval_us) {
    if (interval_us <= 0) interval_us = absl::ToInt64Microseconds(p.hardware.assumed_interval);
    return p.hardware.silent_after_intervals * interval_us;
  }

  static void Raise(RuleContext& ctx, const std::string& key,
                    const provenance::v1::AcceleratorFact& a, const CardSighting& here,
                    const CardSighting& other, int64_t gap) {
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
              gap <= 0
                  ? ": the two spans overlap"
                  : absl::StrCat(": ", gap / 1000000, " s apart, less than one silence window"),
              ". One card cannot be in two servers; a move takes a power cycle of both."));
          SetTimestamp(e->mutable_time(), first_us);
        });
  }
};

}  // namespace

std::unique_ptr<Rule> MakeHardwareClonedIdentityRule() {
  return std::make_unique<HardwareClonedIdentityRule>();
}

}  // namespace prov::server
