// hardware_relabelled: a reported accelerator whose PCI vendor/device ID (or the name its driver
// gives, NVML's) contradicts what the inventory declares for its serial, or, for a card that
// reports no serial or UUID, for the node's slot it fills (the node's declared rows not matched by
// identity). A restricted chip (policy restricted_hardware: a Huawei Ascend) under any other
// declared name is critical. Judged on the nodes that reported and, after an import, all nodes;
// a contradiction the inventory no longer makes resolves the flag.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/accelerator_naming.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"
#include "server/analysis/hardware_facts.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

using provenance::v1::AcceleratorFact;
using provenance::v1::Flag;
using provenance::v1::InventoryEntry;

// Why `a` is not what `row` declares; empty when nothing contradicts.
std::vector<std::string> Contradictions(const HardwareState& hw, const AcceleratorFact& a,
                                        const InventoryEntry& row) {
  std::vector<std::string> why;
  const auto& d = row.declared();
  if (d.vendor_id() != 0 && d.device_id() != 0 &&
      (d.vendor_id() != a.vendor_id() || d.device_id() != a.device_id())) {
    why.push_back(absl::StrFormat("the PCI ID %#06x:%#06x is not the declared %#06x:%#06x",
                                  a.vendor_id(), a.device_id(), d.vendor_id(), d.device_id()));
  }
  const CatalogEntry* known = CatalogRow(hw, a);
  if (!d.declared_model().empty() && known != nullptr && !known->model.empty() &&
      ReportedNameDisagrees(known->model, d.declared_model()) &&
      ReportedNameDisagrees(d.declared_model(), known->model)) {
    why.push_back(absl::StrCat("the PCI ID names a ", known->model, ", not the declared \"",
                               d.declared_model(), "\""));
  }
  if (!d.declared_model().empty() && !a.model().empty() &&
      ReportedNameDisagrees(d.declared_model(), a.model())) {
    why.push_back(absl::StrCat("the driver names it \"", a.model(), "\", not the declared \"",
                               d.declared_model(), "\""));
  }
  return why;
}

class HardwareRelabelledRule final : public Rule {
 public:
  absl::string_view name() const override { return kHardwareRelabelledRule; }
  void Evaluate(RuleContext& ctx) override {
    HardwareState& hw = ctx.s.hw;
    if (hw.inventory == nullptr) return;
    for (const std::string& node_id : ctx.changed_hardware_nodes) {
      auto facts = ctx.s.nodes.find(node_id);
      if (facts == ctx.s.nodes.end()) continue;
      const auto& cards = facts->second.accelerators();
      const NodeMatch match = MatchNode(hw, node_id, cards);
      // Slot subjects ("<node>/<pci>") flagged before: resolved when that PCI slot no longer
      // holds an anonymous card that contradicts its row (it reports a serial now, or left).
      std::set<std::string>& anonymous_flagged = hw.anonymous_relabelled[node_id];
      std::set<std::string> still;
      for (int i = 0; i < cards.size(); ++i) {
        const AcceleratorFact& a = cards[i];
        const InventoryEntry* row = match.row[i];
        const bool anonymous = CardKey(a).empty();
        const std::string subject =
            absl::StrCat("accelerator:", anonymous ? absl::StrCat(node_id, "/", a.pci_address())
                                         : row != nullptr ? row->declared().serial()
                                                          : CardKey(a));
        const std::vector<std::string> why =
            row == nullptr ? std::vector<std::string>() : Contradictions(hw, a, *row);
        if (why.empty()) {
          ResolveFlag(
              ctx.s, kHardwareRelabelledRule, subject, "reconciled",
              absl::StrCat("The card at ", node_id, "/", a.pci_address(),
                           " now agrees with the inventory (version ", hw.inventory_version, ")"),
              "resolved itself: the card agrees with the inventory", ctx.now_us);
          continue;
        }
        if (anonymous) still.insert(subject);
        Raise(ctx, node_id, facts->second, a, *row, anonymous, subject, why);
      }
      for (const std::string& subject : anonymous_flagged) {
        if (still.contains(subject)) continue;
        ResolveFlag(ctx.s, kHardwareRelabelledRule, subject, "reconciled",
                    absl::StrCat("Node ", node_id, " no longer reports a card without identity at ",
                                 subject.substr(12)),
                    "resolved itself: the slot no longer holds that card", ctx.now_us);
      }
      if (still.empty()) {
        hw.anonymous_relabelled.erase(node_id);
      } else {
        anonymous_flagged = std::move(still);
      }
    }
  }

 private:
  static void Raise(RuleContext& ctx, const std::string& node_id,
                    const provenance::v1::NodeFacts& node, const AcceleratorFact& a,
                    const InventoryEntry& row, bool anonymous, const std::string& subject,
                    const std::vector<std::string>& why) {
    const HardwareState& hw = ctx.s.hw;
    const CatalogEntry* known = CatalogRow(hw, a);
    const policy::RestrictedHardware* restricted = ctx.p.MatchHardware(
        a.vendor_id(), a.device_id(), known != nullptr ? known->family : a.family());
    const policy::Severity severity =
        restricted != nullptr ? policy::Severity::kCritical : ctx.p.hardware.relabelled_severity;
    const std::string material = absl::StrCat(absl::StrJoin(why, ";"), "|", DeclaredDigest(row));
    UpsertFlag(
        ctx.s, kHardwareRelabelledRule, subject, severity, material,
        [&] { return node.accelerators_since_us(); }, node.last_time_us(), ctx.now,
        [&](Flag& f) {
          Reopen(f);
          f.set_policy_version(ctx.p.version);
          f.clear_nodes();
          f.add_nodes(node_id);
          AddUnique(f.mutable_nodes(), row.declared().node_id());
          f.clear_datacenters();
          AddUnique(f.mutable_datacenters(), node.datacenter());
          AddUnique(f.mutable_datacenters(), row.declared().datacenter());
          f.clear_accelerators();
          f.add_accelerators(absl::StrCat(node_id, "/", a.pci_address()));
          f.clear_accounts();
          AddUnique(f.mutable_accounts(), row.declared().account());
          f.set_summary(absl::StrCat(
              restricted != nullptr ? absl::StrCat("Restricted chip (", restricted->name, ") ")
                                    : std::string("Accelerator "),
              "at ", node_id, "/", a.pci_address(), " is not what the inventory declares: ",
              why.front(), anonymous ? " (the card reports no serial: judged on its slot)" : ""));
          f.clear_evidence();
          auto* e = f.add_evidence();
          e->set_kind("hardware");
          e->set_sentence(
              absl::StrCat("Observed: ", DescribeObserved(hw, node_id, a),
                           a.serial().empty() ? "" : absl::StrCat(", serial ", a.serial()),
                           a.uuid().empty() ? "" : absl::StrCat(", UUID ", a.uuid()),
                           ". Declared: ", DescribeRow(row), ". ", absl::StrJoin(why, "; "), "."));
          SetTimestamp(e->mutable_time(), node.last_time_us());
        });
  }
};

}  // namespace

std::unique_ptr<Rule> MakeHardwareRelabelledRule() {
  return std::make_unique<HardwareRelabelledRule>();
}

}  // namespace prov::server
