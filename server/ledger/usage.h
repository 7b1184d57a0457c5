// Compute ledger math: what one NodeReport adds to each workload's accelerator time and FLOP range,
// for the interval the report claims. Store::Commit then rescales it to the time that actually
// elapsed since the node's previous report (credit.h): the claim alone is never credited.
//
//   LedgerOptions options{.default_utilization = 0.30};
//   std::vector<WorkloadUsage> usage = ComputeUsage(report, AcceleratorCatalog::Builtin(),
//   options); usage[0].accelerator_seconds;   // interval_seconds x accelerators of the workload
//   usage[0].flop_low, flop_high;   // the FLOP range this report adds
//   usage[0].method;                // "accel_seconds*peak*tensor_activity", ...
//
// Method (Epoch AI hardware method, shared/docs/domain.md section 3), per accelerator of a
// workload:
//   high = interval_seconds x peak            (then x credited/claimed seconds, credit.h)
//   low  = interval_seconds x peak x activity, activity = the sample's tensor_activity when the
//          driver gave one ("accel_seconds*peak*tensor_activity"), else the configured default
//          utilisation ("accel_seconds*peak*default_util(0.30)").
//   An accelerator whose peak the catalog does not know adds seconds but 0 FLOP ("unknown_peak").
// A workload spanning accelerators measured in different ways gets the distinct methods joined
// with " + " in sorted order, so the method always says how every part was estimated.
//
// Pure functions: no I/O, no clock; safe from any thread. The report must have passed
// ValidateReport (workloads name only accelerators in the report); unknown addresses are skipped.
#pragma once

#include <string>
#include <vector>

#include "common/accelerator_catalog.h"
#include "provenance/v1/report.pb.h"

namespace prov::server {

inline constexpr char kUnattributedAccount[] = "(unattributed)";
inline constexpr char kMethodTensorActivity[] = "accel_seconds*peak*tensor_activity";
inline constexpr char kMethodUnknownPeak[] = "unknown_peak";

struct LedgerOptions {
  double default_utilization = 0.30;
};

struct WorkloadUsage {
  std::string workload_id;
  std::string account;  // attribution.account, or kUnattributedAccount when empty
  provenance::v1::WorkloadClass workload_class = provenance::v1::WORKLOAD_CLASS_UNKNOWN;
  uint32_t accelerator_count = 0;
  std::string accelerator_model;  // model of its accelerators; "mixed" when they differ
  double accelerator_seconds = 0;
  double flop_low = 0;
  double flop_high = 0;
  std::string method;
  // Of accelerator_seconds, the part estimated across an evidence gap (ApplyCredit, credit.h);
  // ComputeUsage leaves it 0.
  double gap_seconds = 0;
};

// "accel_seconds*peak*default_util(0.30)"
std::string DefaultUtilizationMethod(double default_utilization);

// Joins two method descriptions: equal ones stay as they are, different ones become the sorted,
// de-duplicated parts joined by " + ". An empty side yields the other.
std::string MergeMethods(const std::string& a, const std::string& b);

// One entry per workload of the report, in report order.
std::vector<WorkloadUsage> ComputeUsage(const provenance::v1::NodeReport& report,
                                        const AcceleratorCatalog& catalog,
                                        const LedgerOptions& options);
// The same into *out, reusing its elements' strings (no allocation when they are big enough).
void ComputeUsageInto(const provenance::v1::NodeReport& report, const AcceleratorCatalog& catalog,
                      const LedgerOptions& options, std::vector<WorkloadUsage>* out);

}  // namespace prov::server
