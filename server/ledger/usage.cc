#include "server/ledger/usage.h"

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
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

namespace {

// The report's accelerators by address (compared ignoring case), with their catalog facts and
// sample. Reports name a handful of accelerators, so a linear scan over a small vector beats a
// hash map of lowercased copies; past kLinearMax entries a hash map keyed by the lowercased
// address keeps lookups O(1) for large (up to the validator's 256) accelerator lists.
class FactsTable {
 public:
  AcceleratorFacts& Insert(absl::string_view address) {
    if (AcceleratorFacts* f = Find(address)) return *f;
    entries_.push_back({address, {}});
    if (entries_.size() > kLinearMax) {
      if (index_.empty()) {
        for (size_t i = 0; i + 1 < entries_.size(); ++i) {
          index_.emplace(absl::AsciiStrToLower(entries_[i].first), i);
        }
      }
      index_.emplace(absl::AsciiStrToLower(address), entries_.size() - 1);
    }
    return entries_.back().second;
  }
  AcceleratorFacts* Find(absl::string_view address) {
    if (!index_.empty()) {
      auto it = index_.find(absl::AsciiStrToLower(address));
      return it == index_.end() ? nullptr : &entries_[it->second].second;
    }
    for (auto& [key, facts] : entries_) {
      if (absl::EqualsIgnoreCase(key, address)) return &facts;
    }
    return nullptr;
  }

 private:
  static constexpr size_t kLinearMax = 32;
  absl::InlinedVector<std::pair<absl::string_view, AcceleratorFacts>, 16> entries_;
  absl::flat_hash_map<std::string, size_t> index_;  // only past kLinearMax entries
};

// DefaultUtilizationMethod(u), formatted once per thread for the last u seen.
const std::string& CachedDefaultMethod(double default_utilization) {
  thread_local double cached_for = -1;
  thread_local std::string cached;
  if (cached.empty() || cached_for != default_utilization) {
    cached = DefaultUtilizationMethod(default_utilization);
    cached_for = default_utilization;
  }
  return cached;
}

}  // namespace

void ComputeUsageInto(const NodeReport& report, const AcceleratorCatalog& catalog,
                      const LedgerOptions& options, std::vector<WorkloadUsage>* out) {
  FactsTable facts;
  for (const Accelerator& accelerator : report.accelerators()) {
    AcceleratorFacts& f = facts.Insert(accelerator.pci_address());
    auto match = catalog.Lookup(accelerator.vendor_id(), accelerator.device_id());
    f.peak_flops = match ? match->entry->peak_flops : 0;
    f.model = ModelName(accelerator, catalog);
  }
  for (const AcceleratorSample& sample : report.samples()) {
    if (AcceleratorFacts* f = facts.Find(sample.pci_address())) f->sample = &sample;
  }

  const double seconds = report.interval_seconds();
  const std::string& default_method = CachedDefaultMethod(options.default_utilization);
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
    usage.gap_seconds = 0;
    usage.flop_low = 0;
    usage.flop_high = 0;
    usage.method.clear();
    for (const std::string& address : workload.accelerator_pci_addresses()) {
      const AcceleratorFacts* found = facts.Find(address);
      if (found == nullptr) continue;
      const AcceleratorFacts& f = *found;
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
