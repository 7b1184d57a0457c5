// Analyzer: provd's incremental correlator and flag book, in memory, with no threads and no I/O.
// The AnalysisEngine (analysis_engine.h) owns one, feeds it committed reports and identity
// snapshots on its thread, persists what changed and serves queries from it.
//
//   Analyzer analyzer(policy);                          // std::shared_ptr<const policy::Policy>
//   analyzer.SetIdentity(snapshot, now);                // accounts, screening hits
//   analyzer.Observe(ObserveReport(report, usage));     // one committed report
//   analyzer.ObserveNodeEvent(event);                   // a round of rejected reports, ...
//   analyzer.SetInventory(index, version);              // the declared inventory
//   analyzer.Evaluate(now);                             // rules (rule.h) on what the above touched
//   AnalyzerChanges changes = analyzer.TakeChanges();   // what to persist / push to watchers
//
// Evidence (docs/design/correlation.md): every link kind is found through an index keyed by the
// evidence itself (address -> node -> workloads, digest -> accounts, time bucket -> workloads,
// identity value -> accounts), so a report costs what its own workloads touch, never a scan.
// Links combine per account pair as 1 - prod(1 - max weight per kind); a pair at or above the
// policy's bundle_threshold whose workload-level kinds alone reach min_workload_evidence joins
// one bundle (connected components over accounts). Flags are keyed by (rule, subject) and updated,
// never duplicated.
//
// Thread-compatible: the owner serialises every call.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "common/accelerator_catalog.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/analysis_state.pb.h"
#include "server/analysis/identity_sink.h"
#include "server/analysis/node_event.h"
#include "server/analysis/observation.h"
#include "server/inventory/inventory_index.h"
#include "server/policy/policy.h"

namespace prov::server {

// What changed since the last TakeChanges(): the engine writes exactly these rows.
struct AnalyzerChanges {
  std::vector<std::string> nodes;          // node ids whose facts changed
  std::vector<std::string> workloads;      // workload keys whose facts changed
  std::vector<std::string> links;          // link keys added or changed
  std::vector<std::string> removed_links;  // link keys withdrawn
  std::vector<std::string> bundles;        // bundle ids created, changed or merged away
  std::vector<std::string> flags;          // flag ids raised or updated (also pushed to watchers)
  bool empty() const {
    return nodes.empty() && workloads.empty() && links.empty() && removed_links.empty() &&
           bundles.empty() && flags.empty();
  }
};

struct AnalyzerStats {
  size_t nodes = 0, workloads = 0, links = 0, bundles = 0, flags = 0;
  size_t multi_account_bundles = 0;
  // hardware_silent's outage guard (policy hardware.outage_*): nodes past their silence deadline
  // now, those whose silence is held for an outage, and outages seen since start.
  size_t overdue_nodes = 0, silence_held_nodes = 0;
  uint64_t silence_outages = 0;
};

class Analyzer {
 public:
  explicit Analyzer(std::shared_ptr<const policy::Policy> policy);
  ~Analyzer();

  // Evidence from one committed report.
  void Observe(const ReportObservation& report);
  // A node fact from outside its stored reports (node_event.h), judged by the node rules.
  void ObserveNodeEvent(const NodeEvent& event);
  // The accounts, their screening hits and the versions they come from. `now` dates the flags it
  // raises when no report does.
  void SetIdentity(const IdentitySnapshot& snapshot, absl::Time now);
  // The declared inventory (provctl inventory import) and its version: the hardware rules judge
  // every node against it at the next Evaluate. Null: none imported.
  void SetInventory(std::shared_ptr<const inventory::InventoryIndex> inventory, int64_t version);
  // A card an import declared on another node than `previous_node` at `at` (restored at start
  // from the inventory history: a planned move's grace survives a restart).
  void SetRedeclared(const std::string& serial, const std::string& previous_node, absl::Time at);
  // Silence on the fleet's newest report time instead of provd's clock (replays at a time scale,
  // provd --ledger-clock report); the catalog naming PCI IDs (null: the builtin one).
  void SetHardwareClock(bool report_timeline, const AcceleratorCatalog* catalog = nullptr);
  // Re-weighs every link and re-evaluates every bundle under the new policy.
  void SetPolicy(std::shared_ptr<const policy::Policy> policy);
  // Applies the policy's rules to every bundle, account and node touched since the last call.
  void Evaluate(absl::Time now);
  AnalyzerChanges TakeChanges();
  // A person's case change on a flag (CaseService): status, disposition, assignee and the case's
  // time; the flag gets a new revision and is saved and pushed like any change. Null when no
  // such flag.
  const provenance::v1::Flag* SetFlagCase(const std::string& flag_id,
                                          provenance::v1::FlagStatus status,
                                          provenance::v1::Disposition disposition,
                                          const std::string& assignee, absl::Time updated_at);
  // Puts changes that could not be saved back, so the next TakeChanges() returns them again.
  void Requeue(const AnalyzerChanges& changes);

  // Restoring persisted state at start-up (any order), then FinishRestore().
  void RestoreNode(provenance::v1::NodeFacts node);
  void RestoreWorkload(provenance::v1::WorkloadFacts workload);
  void RestoreLink(const std::string& key, provenance::v1::Link link);
  void RestoreBundle(provenance::v1::Bundle bundle);  // ids, merged_into, membership
  void RestoreFlag(provenance::v1::Flag flag);
  void FinishRestore();

  // Queries (copies).
  const provenance::v1::NodeFacts* node(const std::string& id) const;
  const provenance::v1::WorkloadFacts* workload(const std::string& key) const;
  const provenance::v1::Link* link(const std::string& key) const;
  const provenance::v1::Flag* flag(const std::string& id) const;
  std::optional<provenance::v1::Bundle> bundle(const std::string& id) const;
  std::vector<provenance::v1::Flag> ListFlags(const provenance::v1::ListFlagsRequest& req) const;
  std::vector<provenance::v1::Bundle> ListBundles(
      const provenance::v1::ListBundlesRequest& req) const;
  std::vector<provenance::v1::Link> BundleLinks(const std::string& bundle_id, size_t limit) const;
  std::vector<provenance::v1::Flag> FlagsOfBundle(const std::string& bundle_id) const;
  std::string BundleOf(const std::string& account) const;  // "" when none
  std::vector<std::string> FlagsOfAccount(const std::string& account) const;
  const policy::Policy& policy() const { return *policy_; }
  AnalyzerStats stats() const;
  // Bundles whose training FLOP (low) is within a factor 10 below the next tier.
  size_t BundlesNearTier() const;

  struct State;  // internal (analyzer_state.h), public only for the .cc files' helpers

 private:
  std::unique_ptr<State> s_;
  std::shared_ptr<const policy::Policy> policy_;
};

}  // namespace prov::server
