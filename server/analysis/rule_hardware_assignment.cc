// hardware_assignment: a workload on a declared accelerator belonging to an account other than the
// one the inventory rents the card to (the fibre run to the next rack: a customer other than the
// one renting it uses the card). Only for rows that name an account. Judged when a node's
// workloads or accelerators change and after an import; resolved when the card's workloads are
// the renter's again.
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"
#include "server/analysis/hardware_facts.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

struct Misuse {
  const provenance::v1::InventoryEntry* row = nullptr;
  std::string pci;
  std::set<std::string> accounts, workloads;
  int64_t first_us = 0, last_us = 0;
};

class HardwareAssignmentRule final : public Rule {
 public:
  absl::string_view name() const override { return kHardwareAssignmentRule; }
  void Evaluate(RuleContext& ctx) override {
    HardwareState& hw = ctx.s.hw;
    if (hw.inventory == nullptr) return;
    for (const std::string& node_id : ctx.changed_hardware_nodes) {
      auto facts = ctx.s.nodes.find(node_id);
      if (facts == ctx.s.nodes.end()) continue;
      const provenance::v1::NodeFacts& node = facts->second;
      std::map<std::string, const provenance::v1::InventoryEntry*> rented;  // pci -> row
      for (const auto& a : node.accelerators()) {
        const auto* row = DeclaredRow(hw, a);
        if (row != nullptr && !row->declared().account().empty()) rented[a.pci_address()] = row;
      }
      if (rented.empty()) continue;
      std::map<std::string, Misuse> misuse;  // serial -> who else uses it
      for (const std::string& key : node.current_workloads()) {
        auto w = ctx.s.workloads.find(key);
        if (w == ctx.s.workloads.end() || w->second.account().empty()) continue;
        for (const std::string& acc : w->second.accelerators()) {
          auto r = rented.find(acc.substr(acc.find('/') + 1));
          if (r == rented.end() || r->second->declared().account() == w->second.account()) {
            continue;
          }
          Misuse& m = misuse[r->second->declared().serial()];
          m.row = r->second;
          m.pci = r->first;
          m.accounts.insert(w->second.account());
          m.workloads.insert(key);
          const int64_t first = w->second.first_time_us();
          m.first_us = m.first_us == 0 ? first : std::min(m.first_us, first);
          m.last_us = std::max(m.last_us, w->second.last_time_us());
        }
      }
      for (const auto& [pci, row] : rented) {
        const std::string& serial = row->declared().serial();
        auto m = misuse.find(serial);
        const std::string subject = absl::StrCat("accelerator:", serial);
        if (m == misuse.end()) {
          ResolveFlag(
              ctx.s, kHardwareAssignmentRule, subject, "reconciled",
              absl::StrCat("Accelerator ", serial, " on node ", node_id,
                           " runs no workload of another account than ", row->declared().account()),
              "resolved itself: only the renter uses it", ctx.now_us);
          continue;
        }
        Raise(ctx, node_id, node, m->second);
      }
    }
  }

 private:
  static void Raise(RuleContext& ctx, const std::string& node_id,
                    const provenance::v1::NodeFacts& node, const Misuse& m) {
    const auto& d = m.row->declared();
    UpsertFlag(
        ctx.s, kHardwareAssignmentRule, absl::StrCat("accelerator:", d.serial()),
        ctx.p.hardware.assignment_severity,
        absl::StrCat(absl::StrJoin(m.accounts, ","), "|", DeclaredDigest(*m.row)),
        [&] { return m.first_us; }, m.last_us, ctx.now,
        [&](Flag& f) {
          Reopen(f);
          f.set_policy_version(ctx.p.version);
          f.clear_nodes();
          f.add_nodes(node_id);
          f.clear_datacenters();
          AddUnique(f.mutable_datacenters(), node.datacenter());
          f.clear_accelerators();
          f.add_accelerators(absl::StrCat(node_id, "/", m.pci));
          f.clear_accounts();
          f.add_accounts(d.account());
          for (const std::string& a : m.accounts) AddUnique(f.mutable_accounts(), a);
          for (const std::string& w : m.workloads) AddUnique(f.mutable_workloads(), w);
          f.set_summary(absl::StrCat("Accelerator ", d.serial(), " (", node_id, "/", m.pci,
                                     ") is rented to ", d.account(), " but runs workloads of ",
                                     absl::StrJoin(m.accounts, ", ")));
          f.clear_evidence();
          for (const std::string& key : m.workloads) {
            auto* e = f.add_evidence();
            e->set_kind("workload");
            e->set_sentence(absl::StrCat("Workload ", DescribeWorkload(ctx.s, key), " runs on ",
                                         node_id, "/", m.pci, "; declared: ", DescribeRow(*m.row)));
            auto w = ctx.s.workloads.find(key);
            SetTimestamp(e->mutable_time(),
                         w == ctx.s.workloads.end() ? m.first_us : w->second.first_time_us());
          }
        });
  }
};

}  // namespace

std::unique_ptr<Rule> MakeHardwareAssignmentRule() {
  return std::make_unique<HardwareAssignmentRule>();
}

}  // namespace prov::server
