// restricted_hardware:<rule>: a node reporting accelerators the policy restricts (by PCI ID and
// catalog family, e.g. Huawei Ascend), with who uses them; judged on the nodes whose accelerators
// or workloads changed since the last evaluation. The family is the catalog's (by PCI ID).
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "server/analysis/analyzer.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"
#include "server/analysis/hardware_facts.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

class RestrictedHardwareRule final : public Rule {
 public:
  absl::string_view name() const override { return "restricted_hardware"; }
  void Evaluate(RuleContext& ctx) override {
    Analyzer::State& s = ctx.s;
    for (const std::string& id : s.dirty_nodes) {
      auto it = s.nodes.find(id);
      if (it == s.nodes.end()) continue;
      const provenance::v1::NodeFacts& node = it->second;
      absl::flat_hash_map<const policy::RestrictedHardware*, std::vector<std::string>> matched;
      for (const auto& a : node.accelerators()) {
        // The family from provd's catalog by PCI ID, not the agent's word (a modified agent could
        // call an Ascend "ampere"); the agent's only for IDs the catalog does not know.
        const auto known = Catalog(s.hw).Lookup(a.vendor_id(), a.device_id());
        const std::string& family =
            known.has_value() && !known->entry->family.empty() ? known->entry->family : a.family();
        if (const auto* rule = ctx.p.MatchHardware(a.vendor_id(), a.device_id(), family)) {
          matched[rule].push_back(a.pci_address());
        }
      }
      for (const auto& entry : matched) {
        const auto& rule = entry.first;  // named, not bound: the lambdas below capture them
        const auto& pcis = entry.second;
        std::set<std::string> accounts, workloads;
        for (const std::string& key : node.current_workloads()) {
          const auto& w = s.workloads.at(key);
          for (const std::string& acc : w.accelerators()) {
            const std::string pci = acc.substr(acc.find('/') + 1);
            if (std::find(pcis.begin(), pcis.end(), pci) != pcis.end()) {
              accounts.insert(w.account());
              workloads.insert(key);
              break;
            }
          }
        }
        const std::string material =
            absl::StrCat(absl::StrJoin(pcis, ","), "|", absl::StrJoin(accounts, ","));
        UpsertFlag(
            s, absl::StrCat("restricted_hardware:", rule->name), absl::StrCat("node:", id),
            rule->severity, material, [&] { return node.accelerators_since_us(); },
            node.last_time_us(), ctx.now,
            [&](Flag& f) {
              f.set_policy_version(ctx.p.version);
              for (const auto& acct : accounts) {
                if (std::find(f.accounts().begin(), f.accounts().end(), acct) ==
                    f.accounts().end()) {
                  f.add_accounts(acct);  // everyone who ever used it stays listed
                }
              }
              for (const auto& w : workloads) {
                if (std::find(f.workloads().begin(), f.workloads().end(), w) ==
                        f.workloads().end() &&
                    static_cast<size_t>(f.workloads_size()) < kMaxListed) {
                  f.add_workloads(w);
                }
              }
              f.clear_nodes();
              f.add_nodes(id);
              f.clear_datacenters();
              f.add_datacenters(node.datacenter());
              f.clear_accelerators();
              std::string models;
              for (const auto& a : node.accelerators()) {
                if (std::find(pcis.begin(), pcis.end(), a.pci_address()) == pcis.end()) {
                  continue;
                }
                f.add_accelerators(absl::StrCat(id, "/", a.pci_address()));
                if (models.empty()) {
                  models = absl::StrFormat("%s %s (PCI %04x:%04x, family %s)", a.vendor(),
                                           a.model().empty() ? "unknown model" : a.model(),
                                           a.vendor_id(), a.device_id(),
                                           a.family().empty() ? "?" : a.family());
                }
              }
              f.set_summary(absl::StrCat(
                  "Restricted hardware (", rule->name, "): ", pcis.size(), " x ", models,
                  " on node ", id, " (", node.datacenter(), ")",
                  accounts.empty() ? ", idle"
                                   : absl::StrCat(", used by ", absl::StrJoin(accounts, ", "))));
              f.clear_evidence();
              auto* e = f.add_evidence();
              e->set_kind("hardware");
              e->set_sentence(absl::StrCat(
                  "Node ", id, " (hostname ", node.hostname(), ") reports ", pcis.size(),
                  " accelerator(s) matching rule ", rule->name, " by PCI ID from sysfs: ", models,
                  "; accelerators ", absl::StrJoin(pcis, ", ")));
              SetTimestamp(e->mutable_time(), node.last_time_us());
            });
      }
    }
  }
};

}  // namespace

std::unique_ptr<Rule> MakeRestrictedHardwareRule() {
  return std::make_unique<RestrictedHardwareRule>();
}

}  // namespace prov::server
