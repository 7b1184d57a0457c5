// ExportCollector: audit exports for Prometheus, computed at scrape time (one small query).
//
//   exposer.RegisterCollectable(std::make_shared<ExportCollector>(exporter));
//
// prov_exports_total{trigger}                    exports recorded ("schedule", "request")
// prov_export_last_timestamp_seconds{trigger}    when the newest of them was made (Unix time)
// prov_export_failures_total                     export runs that failed since provd started
// prov_export_last_duration_seconds              how long the last successful run took
// An alert on time() - prov_export_last_timestamp_seconds{trigger="schedule"} > 1.5 days finds a
// schedule that stopped. Thread-safe.
#pragma once

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/export/exporter.h"

namespace prov::server {

class ExportCollector final : public prometheus::Collectable {
 public:
  explicit ExportCollector(Exporter& exporter) : exporter_(exporter) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  Exporter& exporter_;
};

}  // namespace prov::server
