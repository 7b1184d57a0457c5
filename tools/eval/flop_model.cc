#include "tools/eval/flop_model.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/ledger/usage.h"
#include "tools/prov-sim/report_builder.h"

namespace prov::eval {

FlopModel FlopModel::Compute(const sim::v1::Scenario& scenario, const AcceleratorCatalog& catalog,
                             double default_utilization) {
  FlopModel m;
  sim::ReportBuilder builder(scenario, catalog);
  const size_t n = scenario.nodes_size();
  const double interval = scenario.interval_seconds();
  server::LedgerOptions options{.default_utilization = default_utilization};
  std::vector<server::WorkloadUsage> usage;
  const absl::Time epoch = absl::UnixEpoch();
  for (size_t i = 0; i < n; ++i) {
    const std::string& node_id = scenario.nodes(i).node_id();
    m.node_first_report_[node_id] = absl::ToDoubleSeconds(sim::ReportOffset(interval, i, n, 0));
    for (uint32_t k = 0; k < scenario.reports_per_node(); ++k) {
      bool any_training = false;
      for (const auto* w : builder.ActiveWorkloads(i, k)) {
        if (w->workload_class() == provenance::v1::WORKLOAD_CLASS_TRAINING) any_training = true;
      }
      if (!any_training) continue;
      double offset = absl::ToDoubleSeconds(sim::ReportOffset(interval, i, n, k));
      provenance::v1::NodeReport report =
          builder.Build(i, k, epoch, epoch + absl::Seconds(offset), "eval");
      server::ComputeUsageInto(report, catalog, options, &usage);
      for (const auto& u : usage) {
        if (u.workload_class != provenance::v1::WORKLOAD_CLASS_TRAINING) continue;
        m.events_[u.account].push_back({offset, u.flop_low});
        m.totals_[u.account] += u.flop_low;
        m.first_on_node_.try_emplace(absl::StrCat(node_id, "\n", u.account), offset);
      }
    }
  }
  for (auto& [account, events] : m.events_) {
    std::stable_sort(events.begin(), events.end(), [](const FlopEvent& a, const FlopEvent& b) {
      return a.offset_s < b.offset_s;
    });
  }
  return m;
}

double FlopModel::AccountTrainingFlop(const std::string& account) const {
  auto it = totals_.find(account);
  return it == totals_.end() ? 0 : it->second;
}

double FlopModel::TotalTrainingFlop(const std::vector<std::string>& accounts) const {
  double sum = 0;
  for (const auto& a : accounts) sum += AccountTrainingFlop(a);
  return sum;
}

std::optional<double> FlopModel::CrossingOffset(const std::vector<std::string>& accounts,
                                                double threshold) const {
  std::vector<FlopEvent> merged;
  for (const auto& a : accounts) {
    auto it = events_.find(a);
    if (it != events_.end()) merged.insert(merged.end(), it->second.begin(), it->second.end());
  }
  std::stable_sort(merged.begin(), merged.end(),
                   [](const FlopEvent& a, const FlopEvent& b) { return a.offset_s < b.offset_s; });
  double sum = 0;
  for (const auto& e : merged) {
    sum += e.flop_low;
    if (sum >= threshold) return e.offset_s;
  }
  return std::nullopt;
}

std::optional<double> FlopModel::FirstTrainingOffset(
    const std::vector<std::string>& accounts) const {
  std::optional<double> first;
  for (const auto& a : accounts) {
    auto it = events_.find(a);
    if (it == events_.end() || it->second.empty()) continue;
    double t = it->second.front().offset_s;
    if (!first || t < *first) first = t;
  }
  return first;
}

std::optional<double> FlopModel::FirstTrainingOffsetOnNode(
    const std::string& node_id, const std::vector<std::string>& accounts) const {
  std::optional<double> first;
  for (const auto& a : accounts) {
    auto it = first_on_node_.find(absl::StrCat(node_id, "\n", a));
    if (it != first_on_node_.end() && (!first || it->second < *first)) first = it->second;
  }
  return first;
}

std::optional<double> FlopModel::NodeFirstReportOffset(const std::string& node_id) const {
  auto it = node_first_report_.find(node_id);
  if (it == node_first_report_.end()) return std::nullopt;
  return it->second;
}

}  // namespace prov::eval
