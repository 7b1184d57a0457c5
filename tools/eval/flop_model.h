// FlopModel: what provd's ledger will count for a scenario, computed offline with the same code.
// Every report prov-sim will send is built with prov-sim's ReportBuilder and measured with
// provd's ledger (server/ledger/usage.h, ComputeUsage: accelerator-seconds x catalog peak x
// tensor activity, or x 0.30 without one), so thresholds and crossing times in the evaluation use
// exactly the formula and catalog provd uses.
//
//   FlopModel model = FlopModel::Compute(scenario, AcceleratorCatalog::Builtin());
//   double total = model.TotalTrainingFlop({"acct-a", "acct-b"});
//   std::optional<double> t = model.CrossingOffset({"acct-a", "acct-b"}, 1e20);  // seconds
//
// Offsets are simulated seconds after the run's start (tools/prov-sim ReportOffset): report k of
// node i of n is at k * interval + i * interval / n. Immutable after Compute; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/accelerator_catalog.h"
#include "tools/prov-sim/scenario.pb.h"

namespace prov::eval {

struct FlopEvent {
  double offset_s = 0;
  double flop_low = 0;
};

class FlopModel {
 public:
  static FlopModel Compute(const sim::v1::Scenario& scenario, const AcceleratorCatalog& catalog,
                           double default_utilization = 0.30);

  // Training FLOP (low) of one account over the whole run; 0 for unknown accounts.
  double AccountTrainingFlop(const std::string& account) const;
  double TotalTrainingFlop(const std::vector<std::string>& accounts) const;
  // The offset of the report on which the accounts' combined training FLOP first reaches
  // `threshold`; nullopt when it never does.
  std::optional<double> CrossingOffset(const std::vector<std::string>& accounts,
                                       double threshold) const;
  // The first report with a training workload of any of the accounts.
  std::optional<double> FirstTrainingOffset(const std::vector<std::string>& accounts) const;
  // The first report of `node_id` with a training workload of any of the accounts.
  std::optional<double> FirstTrainingOffsetOnNode(const std::string& node_id,
                                                  const std::vector<std::string>& accounts) const;
  // The node's first report (restricted hardware is a finding from the node's inventory on).
  std::optional<double> NodeFirstReportOffset(const std::string& node_id) const;
  // Every account with training FLOP, and its total.
  const absl::flat_hash_map<std::string, double>& totals() const { return totals_; }

 private:
  absl::flat_hash_map<std::string, std::vector<FlopEvent>> events_;  // per account, by time
  absl::flat_hash_map<std::string, double> totals_;
  // "<node>\n<account>" -> first training offset
  absl::flat_hash_map<std::string, double> first_on_node_;
  absl::flat_hash_map<std::string, double> node_first_report_;
};

}  // namespace prov::eval
