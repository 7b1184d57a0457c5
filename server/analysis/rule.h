// Rule: one family of flags the Analyzer raises, behind one interface (issue 10 §3). Each rule is
// a class in its own file (rule_*.cc), judges only what changed since the last evaluation (the
// State's dirty sets, the bundles whose material changed, the hardware sightings of the newest
// reports, the silence deadlines that fell due) and raises, updates or resolves flags through
// UpsertFlag / ResolveFlag (analyzer_internal.h). Rules keep no state of their own: everything
// they read lives in Analyzer::State, so a restart rebuilds them from the stored facts and flags.
//
//   // analyzer_flags.cc, Analyzer::Evaluate:
//   RuleContext ctx(s, p, now);
//   PrepareBundles(ctx);                      // bundles whose material changed
//   PrepareHardware(ctx);                     // sightings stamped on provd's clock, due silences
//   for (const auto& rule : s.rules) rule->Evaluate(ctx);
//
// Adding a rule: a class deriving from Rule in rule_<name>.cc, a Make<Name>Rule() factory declared
// below and listed in MakeRules(), its policy knobs in server/policy, and its own test file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/analysis/analyzer.h"
#include "server/policy/policy.h"

namespace prov::server {

struct BundleState;

// A bundle whose material (accounts, evidence, compute decile, tiers, restricted parties) changed
// and whose members train: what the bundle rules judge. Filled by PrepareBundles.
struct BundleView {
  const std::string* id = nullptr;
  BundleState* state = nullptr;
  double low = 0, high = 0, seconds = 0;
  std::string method;
  std::vector<std::string> restricted;  // reasons
  std::vector<std::string> restricted_accounts, training_accounts;
  int64_t restricted_first_train_us = 0;
  int64_t first_train_us = 0;
  int64_t evidence_us = 0;
  std::string accounts;  // joined with ","
  std::string material;  // what the bundle's flags rest on
  // Sets the fields every bundle flag shares (versions, members, compute and link evidence).
  std::function<void(provenance::v1::Flag&)> fill_common;
};

struct RuleContext {
  RuleContext(Analyzer::State& state, const policy::Policy& policy, absl::Time at)
      : s(state), p(policy), now(at), now_us(absl::ToUnixMicros(at)) {}
  Analyzer::State& s;
  const policy::Policy& p;
  absl::Time now;
  int64_t now_us = 0;
  std::vector<BundleView> bundles;
  // Hardware (hardware_facts.h): nodes whose report arrived since the last evaluation; of those,
  // the ones whose cards or workloads changed (or all known nodes after an import: the rules
  // that compare cards with the inventory judge only these); identities now seen on two nodes
  // ("<key>" and the reporting node); nodes whose silence fell due; whether the declared
  // inventory changed.
  std::vector<std::string> hardware_nodes;
  std::vector<std::string> changed_hardware_nodes;
  std::vector<std::pair<std::string, std::string>> shared_identities;
  std::vector<std::string> silent_nodes;
  bool inventory_changed = false;
};

class Rule {
 public:
  virtual ~Rule() = default;
  // The family, as the flags' rule value starts: "compute_tier", "hardware_moved".
  virtual absl::string_view name() const = 0;
  virtual void Evaluate(RuleContext& ctx) = 0;
};

// The rules provd runs, in evaluation order.
std::vector<std::unique_ptr<Rule>> MakeRules();

std::unique_ptr<Rule> MakeComputeTierRule();
std::unique_ptr<Rule> MakeProjectionRule();
std::unique_ptr<Rule> MakeRestrictedPartyTrainingRule();
std::unique_ptr<Rule> MakeScreeningRule();
std::unique_ptr<Rule> MakeRestrictedHardwareRule();
std::unique_ptr<Rule> MakeNodeRejectedRule();
std::unique_ptr<Rule> MakeNodeIdentityMismatchRule();
std::unique_ptr<Rule> MakeHardwareRelabelledRule();
std::unique_ptr<Rule> MakeHardwareMovedRule();
std::unique_ptr<Rule> MakeHardwareClonedIdentityRule();
std::unique_ptr<Rule> MakeHardwareUndeclaredRule();
std::unique_ptr<Rule> MakeHardwareSilentRule();
std::unique_ptr<Rule> MakeHardwareAssignmentRule();
std::unique_ptr<Rule> MakeLocationRule();  // location_contradicted, _unverified, _answer_forged

// Fills ctx.bundles from the State's dirty bundles (updating their rate and material) and clears
// them (rule_bundle.cc).
void PrepareBundles(RuleContext& ctx);

}  // namespace prov::server
