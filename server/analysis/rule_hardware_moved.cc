// hardware_moved: a declared accelerator (by serial, else UUID) reported by a node other than the
// one the inventory installs it in: a card moved to another rack or site, perhaps for another
// customer. Evidence: both nodes, their data centres and racks, when the card was first and last
// seen where it is. An inventory re-import that declares the new node (a planned move) resolves
// it; a card a re-import declared elsewhere but still reporting from its previous node is a move
// not done yet, flagged only once the policy's hardware.move_grace has passed.
#include <string>

#include "absl/strings/str_cat.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"
#include "server/analysis/hardware_facts.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

class HardwareMovedRule final : public Rule {
 public:
  absl::string_view name() const override { return kHardwareMovedRule; }
  void Evaluate(RuleContext& ctx) override {
    HardwareState& hw = ctx.s.hw;
    if (hw.inventory == nullptr) return;
    for (const std::string& node_id : ctx.changed_hardware_nodes) {
      hw.in_move_grace.erase(node_id);  // judged again below
      auto facts = ctx.s.nodes.find(node_id);
      if (facts == ctx.s.nodes.end()) continue;
      const provenance::v1::NodeFacts& node = facts->second;
      for (const auto& a : node.accelerators()) {
        const provenance::v1::InventoryEntry* row = DeclaredRow(hw, a);
        if (row == nullptr || row->declared().node_id().empty()) continue;
        const auto& d = row->declared();
        const std::string subject = absl::StrCat("accelerator:", d.serial());
        if (d.node_id() == node_id) {
          ResolveFlag(ctx.s, kHardwareMovedRule, subject, "reconciled",
                      absl::StrCat("Inventory version ", row->version(), " declares serial ",
                                   d.serial(), " on node ", node_id, ", where it reports"),
                      "resolved itself: the inventory declares it where it is", ctx.now_us);
          continue;
        }
        // Re-declared on another node by a recent import but still where it was declared
        // before: a planned move not done yet (the asset system updated first).
        auto moving = hw.redeclared.find(d.serial());
        if (moving != hw.redeclared.end() && moving->second.previous_node == node_id &&
            SilenceClock(ctx) - moving->second.at_us <
                absl::ToInt64Microseconds(ctx.p.hardware.move_grace)) {
          hw.in_move_grace.insert(node_id);  // judged at each report until the grace ends
          continue;
        }
        const CardSighting* here = FindSighting(hw, CardKey(a), node_id);
        const int64_t first_us = here != nullptr ? here->first_us : node.last_time_us();
        const int64_t last_us = here != nullptr ? here->last_us : node.last_time_us();
        const std::string rack = DeclaredRack(hw, node_id);
        UpsertFlag(
            ctx.s, kHardwareMovedRule, subject, ctx.p.hardware.moved_severity,
            absl::StrCat(node_id, "|", DeclaredDigest(*row)), [&] { return first_us; }, last_us,
            ctx.now,
            [&](Flag& f) {
              Reopen(f);
              f.set_policy_version(ctx.p.version);
              f.clear_nodes();
              f.add_nodes(d.node_id());
              f.add_nodes(node_id);
              f.clear_datacenters();
              AddUnique(f.mutable_datacenters(), d.datacenter());
              AddUnique(f.mutable_datacenters(), node.datacenter());
              f.clear_accelerators();
              f.add_accelerators(absl::StrCat(node_id, "/", a.pci_address()));
              f.clear_accounts();
              AddUnique(f.mutable_accounts(), d.account());
              for (const std::string& key : node.current_workloads()) {
                auto w = ctx.s.workloads.find(key);
                if (w != ctx.s.workloads.end())
                  AddUnique(f.mutable_accounts(), w->second.account());
              }
              f.set_summary(absl::StrCat("Accelerator ", d.serial(), " declared on node ",
                                         d.node_id(), " (", d.datacenter(), ") reports from node ",
                                         node_id, " (", node.datacenter(), ")"));
              f.clear_evidence();
              auto* e = f.add_evidence();
              e->set_kind("hardware");
              e->set_sentence(
                  absl::StrCat("Declared: ", DescribeRow(*row), ". Observed on node ", node_id,
                               " (hostname ", node.hostname(), ", ",
                               node.datacenter().empty() ? "no data centre" : node.datacenter(),
                               rack.empty() ? "" : absl::StrCat(" rack ", rack),
                               "): ", DescribeObserved(hw, node_id, a), ", first seen there ",
                               ClockText(first_us), ", last ", ClockText(last_us), "."));
              SetTimestamp(e->mutable_time(), first_us);
            });
      }
    }
  }
};

}  // namespace

std::unique_ptr<Rule> MakeHardwareMovedRule() { return std::make_unique<HardwareMovedRule>(); }

}  // namespace prov::server
