#include "server/ledger/usage.h"

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace prov::server {
namespace {

using provenance::v1::Accelerator;
using provenance::v1::AcceleratorSample;
using provenance::v1::NodeReport;

struct AcceleratorFacts {
  double peak_flops = 0;
  std::string model;
  const AcceleratorSample* sample = nullptr;
};

std::string ModelName(const Accelerator& accelerator, const AcceleratorCatalog& catalog) {
  auto match = catalog.Lookup(accelerator.vendor_id(), accelerator.device_id());
  if (match && match->exact && !match->entry->model.empty()) return match->entry->model;
  if (!accelerator.model().empty()) return accelerator.model();
  if (match && !match->entry->model.empty()) return match->entry->model;
  return absl::StrFormat("unknown %04x:%04x", accelerator.vendor_id(), accelerator.device_id());
}

}  // namespace

std::string DefaultUtilizationMethod(double default_utilization) {
  return absl::StrFormat("accel_seconds*peak*default_util(%.2f)", default_utilization);
}

std::string MergeMethods(const std::string& a, const std::string& b) {
  if (a.empty() || a == b) return b;
  if (b.empty()) return a;
  std::set<std::string> parts;
  for (absl::string_view part : absl::StrSplit(a, " + ")) parts.emplace(part);
  for (absl::string_view part : absl::StrSplit(b, " + ")) parts.emplace(part);
  return absl::StrJoin(parts, " + ");
}

std::vector<WorkloadUsage> ComputeUsage(const NodeReport& report, const AcceleratorCatalog& catalog,
                                        const LedgerOptions& options) {
  std::vector<WorkloadUsage> result;
  ComputeUsageInto(report, catalog, options, &result);
  return result;
}

void ComputeUsageInto(const NodeReport& report, const AcceleratorCatalog& catalog,
                      const LedgerOptions& options, std::vector<WorkloadUsage>* out) {
  absl::flat_hash_map<std::string, AcceleratorFacts> facts;
  for (const Accelerator& accelerator : report.accelerators()) {
    AcceleratorFacts& f = facts[absl::AsciiStrToLower(accelerator.pci_address())];
    auto match = catalog.Lookup(accelerator.vendor_id(), accelerator.device_id());
    f.peak_flops = match ? match->entry->peak_flops : 0;
    f.model = ModelName(accelerator, catalog);
  }
  for (const AcceleratorSample& sample : report.samples()) {
    auto it = facts.find(absl::AsciiStrToLower(sample.pci_address()));
    if (it != facts.end()) it->second.sample = &sample;
  }

  const double seconds = report.interval_seconds();
  const std::string default_method = DefaultUtilizationMethod(options.default_utilization);
  out->resize(report.workloads_size());
  for (int i = 0; i < report.workloads_size(); ++i) {
    const auto& workload = report.workloads(i);
    WorkloadUsage& usage = (*out)[i];  // every field is set: the element may be reused
    usage.workload_id.assign(workload.workload_id());
    if (workload.attribution().account().empty()) {
      usage.account.assign(kUnattributedAccount);
    } else {
      usage.account.assign(workload.attribution().account());
    }
    usage.workload_class = workload.workload_class();
    usage.accelerator_count = 0;
    usage.accelerator_model.clear();
    usage.accelerator_seconds = 0;
    usage.flop_low = 0;
    usage.flop_high = 0;
    usage.method.clear();
    for (const std::string& address : workload.accelerator_pci_addresses()) {
      auto it = facts.find(absl::AsciiStrToLower(address));
      if (it == facts.end()) continue;
      const AcceleratorFacts& f = it->second;
      ++usage.accelerator_count;
      usage.accelerator_seconds += seconds;
      if (usage.accelerator_model.empty()) {
        usage.accelerator_model = f.model;
      } else if (usage.accelerator_model != f.model) {
        usage.accelerator_model = "mixed";
      }
      absl::string_view method;
      if (f.peak_flops <= 0) {
        method = kMethodUnknownPeak;
      } else {
        double activity = options.default_utilization;
        method = default_method;
        if (f.sample != nullptr && f.sample->has_tensor_activity()) {
          activity = f.sample->tensor_activity();
          method = kMethodTensorActivity;
        }
        usage.flop_high += seconds * f.peak_flops;
        usage.flop_low += seconds * f.peak_flops * activity;
      }
      // MergeMethods(m, m) is m: merge (and allocate) only when the method differs.
      if (usage.method.empty()) {
        usage.method.assign(method.data(), method.size());  // MergeMethods("", m) is m
      } else if (usage.method != method) {
        usage.method = MergeMethods(usage.method, std::string(method));
      }
    }
  }
}

}  // namespace prov::server
