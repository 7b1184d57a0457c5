// LogCollector: provd's own log records for Prometheus, read from the process's logger
// (common/log/log.h, log::Default()) at scrape time, so an on-call engineer can alert on a rise
// in errors without scraping stderr.
//
//   exposer.RegisterCollectable(std::make_shared<LogCollector>());
//
// prov_log_records_total{level="debug"|"info"|"warn"|"error"}
//     records written at that level (counter)
// prov_log_records_suppressed_total
//     records dropped by the per-statement rate limit (each site writes a "suppressed K messages"
//     line when its minute is over) (counter)
// Thread-safe.
#pragma once

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace prov::server {

class LogCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace prov::server
