// ReportBuilder: the simulated collectors. Turns a Scenario into the NodeReports a real prov-agent
// would send for each node and report interval (no /proc, no /sys): accelerators from the catalog,
// one sample per accelerator, the workloads active in that interval with their attribution,
// classification, distributed markers, peers, digests (image, command line, artifacts), idle
// reports (checkpoint stalls) and the node's own address (NodeIdentity.addresses).
//
//   ReportBuilder builder(scenario, prov::AcceleratorCatalog::Builtin());
//   NodeReport r = builder.Build(node_index, report_index, run_start, collected_at, boot_id);
//
// Thread-safety: Build is const and may be called from several threads.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/accelerator_catalog.h"
#include "provenance/v1/report.pb.h"
#include "tools/prov-sim/hardware_plan.h"
#include "tools/prov-sim/scenario.pb.h"

namespace prov::sim {

// What an idle report (SimWorkload.idle_reports) shows on the workload's accelerators.
inline constexpr double kIdleUtilizationPct = 5;
inline constexpr double kIdleTensorActivity = 0.02;
// Simulated time of report k of node i (of n) after the run's start: k * interval + i * interval /
// n, so nodes are spread over one interval. prov-sim dates reports with it; the evaluation scorer
// recomputes the same times.
inline absl::Duration ReportOffset(double interval_seconds, size_t node_index, size_t nodes,
                                   uint32_t k) {
  return absl::Seconds(k * interval_seconds +
                       interval_seconds * static_cast<double>(node_index) / nodes);
}
// Whether report `report_index` is one of the workload's idle reports.
bool IsIdle(const v1::SimWorkload& workload, uint32_t report_index);
// Whether a peer connection exists in report `report_index` (period_reports / phase_report).
bool PeerActive(const v1::SimPeer& peer, uint32_t report_index);

class ReportBuilder {
 public:
  ReportBuilder(const v1::Scenario& scenario, const AcceleratorCatalog& catalog);

  // Report `report_index` (0-based) of node `node_index`; seq is left to the uplink. The cards
  // are the hardware plan's (hardware events applied); after a reboot event the boot id gets a
  // "-reboot<N>" suffix. Callers skip reports for which plan().Reports() is false (silent node).
  provenance::v1::NodeReport Build(size_t node_index, uint32_t report_index, absl::Time run_start,
                                   absl::Time collected_at, const std::string& boot_id) const;
  // Workloads of the node active in report `report_index`.
  std::vector<const v1::SimWorkload*> ActiveWorkloads(size_t node_index,
                                                      uint32_t report_index) const;
  const HardwarePlan& plan() const { return plan_; }

 private:
  static constexpr size_t kMaxSlots = 128;  // 64 declared + cards added by events
  const v1::Scenario& scenario_;
  const AcceleratorCatalog& catalog_;
  HardwarePlan plan_;
  std::vector<std::vector<int>> workloads_by_node_;  // indices into scenario_.workloads()
};

}  // namespace prov::sim
