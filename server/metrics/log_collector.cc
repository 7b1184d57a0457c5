#include "server/metrics/log_collector.h"

#include <string>
#include <utility>

#include "common/log/log.h"

namespace prov::server {

std::vector<prometheus::MetricFamily> LogCollector::Collect() const {
  const log::Logger& logger = log::Default();
  prometheus::MetricFamily records{"prov_log_records_total",
                                   "Log records provd wrote, by level.",
                                   prometheus::MetricType::Counter,
                                   {}};
  for (log::Level level :
       {log::Level::kDebug, log::Level::kInfo, log::Level::kWarn, log::Level::kError}) {
    prometheus::ClientMetric m;
    m.label.push_back({"level", std::string(log::LevelName(level))});
    m.counter.value = static_cast<double>(logger.written(level));
    records.metric.push_back(std::move(m));
  }
  prometheus::MetricFamily suppressed{
      "prov_log_records_suppressed_total",
      "Log records dropped by the per-statement rate limit (a 'suppressed K messages' line "
      "follows each site's minute).",
      prometheus::MetricType::Counter,
      {}};
  prometheus::ClientMetric s;
  s.counter.value = static_cast<double>(logger.suppressed_total());
  suppressed.metric.push_back(std::move(s));
  return {records, suppressed};
}

}  // namespace prov::server
