// hardware_undeclared: "dark" hardware, accelerators the declared inventory does not know. Per
// node: its reported cards with no inventory row by serial or UUID (a card reporting neither
// fills one of the node's unmatched declared rows first: it is judged there, by
// hardware_relabelled), or a whole node the inventory does not know. Only once an inventory has
// been imported. A re-import that declares them (or the cards gone from the node's reports)
// resolves the flag.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"
#include "server/analysis/hardware_facts.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

class HardwareUndeclaredRule final : public Rule {
 public:
  absl::string_view name() const override { return kHardwareUndeclaredRule; }
  void Evaluate(RuleContext& ctx) override {
    HardwareState& hw = ctx.s.hw;
    if (hw.inventory == nullptr || hw.inventory->size() == 0) return;
    for (const std::string& node_id : ctx.changed_hardware_nodes) {
      auto facts = ctx.s.nodes.find(node_id);
      if (facts == ctx.s.nodes.end()) continue;
      const provenance::v1::NodeFacts& node = facts->second;
      const auto& rows = hw.inventory->OnNode(node_id);
      const NodeMatch match = MatchNode(hw, node_id, node.accelerators());
      std::vector<const provenance::v1::AcceleratorFact*> unknown;
      for (int i = 0; i < node.accelerators_size(); ++i) {
        if (match.row[i] == nullptr) unknown.push_back(&node.accelerators(i));
      }
      const std::string subject = absl::StrCat("node:", node_id);
      if (unknown.empty()) {
        ResolveFlag(
            ctx.s, kHardwareUndeclaredRule, subject, "reconciled",
            absl::StrCat("Every accelerator node ", node_id,
                         " reports is declared (inventory version ", hw.inventory_version, ")"),
            "resolved itself: all its accelerators are declared", ctx.now_us);
        continue;
      }
      std::vector<std::string> listed, described;
      for (const auto* a : unknown) {
        listed.push_back(absl::StrCat(node_id, "/", a->pci_address()));
        described.push_back(
            absl::StrCat(DescribeObserved(hw, node_id, *a),
                         a->serial().empty() ? "" : absl::StrCat(", serial ", a->serial()),
                         a->uuid().empty() ? "" : absl::StrCat(", UUID ", a->uuid())));
      }
      const bool node_unknown = rows.empty();
      UpsertFlag(
          ctx.s, kHardwareUndeclaredRule, subject, ctx.p.hardware.undeclared_severity,
          absl::StrJoin(listed, ","), [&] { return node.accelerators_since_us(); },
          node.last_time_us(), ctx.now,
          [&](Flag& f) {
            Reopen(f);
            f.set_policy_version(ctx.p.version);
            f.clear_nodes();
            f.add_nodes(node_id);
            f.clear_datacenters();
            AddUnique(f.mutable_datacenters(), node.datacenter());
            Fill(f.mutable_accelerators(), listed);
            f.clear_accounts();
            f.clear_workloads();
            for (const std::string& key : node.current_workloads()) {
              auto w = ctx.s.workloads.find(key);
              if (w == ctx.s.workloads.end()) continue;
              AddUnique(f.mutable_accounts(), w->second.account());
              AddUnique(f.mutable_workloads(), key);
            }
            f.set_summary(absl::StrCat(
                node_unknown ? "Node unknown to the inventory: " : "Undeclared accelerators: ",
                node_id, " (", node.datacenter().empty() ? "no data centre" : node.datacenter(),
                ") reports ", unknown.size(), " accelerator(s) the inventory (version ",
                hw.inventory_version, ") does not declare"));
            f.clear_evidence();
            for (const std::string& d : described) {
              auto* e = f.add_evidence();
              e->set_kind("hardware");
              e->set_sentence(absl::StrCat("Not in the inventory: ", d));
              SetTimestamp(e->mutable_time(), node.last_time_us());
            }
          });
    }
  }
};

}  // namespace

std::unique_ptr<Rule> MakeHardwareUndeclaredRule() {
  return std::make_unique<HardwareUndeclaredRule>();
}

}  // namespace prov::server
