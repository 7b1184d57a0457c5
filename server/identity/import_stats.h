// ImportStats: what became of each import (and of stored records found unreadable at start-up),
// for Prometheus; ImportCollector exports it at scrape time.
//
//   stats.Count("accounts", ImportResult::kPartial, /*rejected_rows=*/3);
//   exposer.RegisterCollectable(std::make_shared<ImportCollector>(identity->stats()));
//
// prov_imports_total{kind,result}          imports by kind (accounts, screening_list) and result:
//                                          ok, partial (some rows refused), refused (nothing
//                                          imported: bad file, bad encoding, over a limit),
//                                          cancelled (the caller went away or provd shut down),
//                                          failed (a store error)
// prov_import_rows_rejected_total{kind}    rows refused inside imports that went ahead
// prov_records_quarantined_total{table}    stored records that no longer parsed, moved to the
//                                          `quarantined_records` table at start-up
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace prov::server {

enum class ImportResult { kOk, kPartial, kRefused, kCancelled, kFailed };
const char* ImportResultName(ImportResult result);

class ImportStats {
 public:
  void Count(absl::string_view kind, ImportResult result, uint64_t rejected_rows);
  void Quarantined(absl::string_view table, uint64_t records);

  uint64_t imports(absl::string_view kind, ImportResult result) const;
  uint64_t rejected_rows(absl::string_view kind) const;
  std::vector<std::pair<std::string, uint64_t>> quarantined() const;

 private:
  friend class ImportCollector;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, ImportResult>, uint64_t> imports_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> rejected_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> quarantined_ ABSL_GUARDED_BY(mu_);
};

class ImportCollector final : public prometheus::Collectable {
 public:
  explicit ImportCollector(const ImportStats& stats) : stats_(stats) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ImportStats& stats_;
};

}  // namespace prov::server
