#include "server/identity/import_stats.h"

#include <algorithm>

namespace prov::server {
namespace {

constexpr const char* kKinds[] = {"accounts", "screening_list"};
constexpr ImportResult kResults[] = {ImportResult::kOk, ImportResult::kPartial,
                                     ImportResult::kRefused, ImportResult::kCancelled,
                                     ImportResult::kFailed};

prometheus::ClientMetric Counter(double value,
                                 std::vector<std::pair<std::string, std::string>> labels) {
  prometheus::ClientMetric m;
  m.counter.value = value;
  for (auto& [name, label_value] : labels) m.label.push_back({name, label_value});
  return m;
}

}  // namespace

const char* ImportResultName(ImportResult result) {
  switch (result) {
    case ImportResult::kOk:
      return "ok";
    case ImportResult::kPartial:
      return "partial";
    case ImportResult::kRefused:
      return "refused";
    case ImportResult::kCancelled:
      return "cancelled";
    case ImportResult::kFailed:
      return "failed";
  }
  return "unknown";
}

void ImportStats::Count(absl::string_view kind, ImportResult result, uint64_t rejected_rows) {
  absl::MutexLock lock(&mu_);
  ++imports_[{std::string(kind), result}];
  rejected_[std::string(kind)] += rejected_rows;
}

void ImportStats::Quarantined(absl::string_view table, uint64_t records) {
  absl::MutexLock lock(&mu_);
  quarantined_[std::string(table)] += records;
}

uint64_t ImportStats::imports(absl::string_view kind, ImportResult result) const {
  absl::MutexLock lock(&mu_);
  auto it = imports_.find(std::make_pair(std::string(kind), result));
  return it == imports_.end() ? 0 : it->second;
}

uint64_t ImportStats::rejected_rows(absl::string_view kind) const {
  absl::MutexLock lock(&mu_);
  auto it = rejected_.find(std::string(kind));
  return it == rejected_.end() ? 0 : it->second;
}

std::vector<std::pair<std::string, uint64_t>> ImportStats::quarantined() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<std::string, uint64_t>> out(quarantined_.begin(), quarantined_.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<prometheus::MetricFamily> ImportCollector::Collect() const {
  using prometheus::MetricType;
  prometheus::MetricFamily imports{"prov_imports_total",
                                   "KYC and screening-list imports by kind and result.",
                                   MetricType::Counter,
                                   {}};
  prometheus::MetricFamily rejected{"prov_import_rows_rejected_total",
                                    "Rows refused inside imports that went ahead, by kind.",
                                    MetricType::Counter,
                                    {}};
  for (const char* kind : kKinds) {
    for (ImportResult result : kResults) {
      imports.metric.push_back(Counter(static_cast<double>(stats_.imports(kind, result)),
                                       {{"kind", kind}, {"result", ImportResultName(result)}}));
    }
    rejected.metric.push_back(
        Counter(static_cast<double>(stats_.rejected_rows(kind)), {{"kind", kind}}));
  }
  prometheus::MetricFamily quarantined{
      "prov_records_quarantined_total",
      "Stored records that did not parse at start-up, moved to quarantined_records, by table.",
      MetricType::Counter,
      {}};
  for (const auto& [table, n] : stats_.quarantined()) {
    quarantined.metric.push_back(Counter(static_cast<double>(n), {{"table", table}}));
  }
  std::vector<prometheus::MetricFamily> out = {std::move(imports), std::move(rejected)};
  if (!quarantined.metric.empty()) out.push_back(std::move(quarantined));
  return out;
}

}  // namespace prov::server
