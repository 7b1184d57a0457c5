#include "server/metrics/log_collector.h"

#include <string>

#include "common/log/log.h"
#include "server/metrics/counter_family.h"

namespace prov::server {

std::vector<prometheus::MetricFamily> LogCollector::Collect() const {
  const log::Logger& logger = log::Default();
  auto written = [&](log::Level level) {
    return std::pair<std::string, uint64_t>(std::string(log::LevelName(level)),
                                            logger.written(level));
  };
  return {CounterFamily("prov_log_records_total", "Log records provd wrote, by level.", "level",
                        {written(log::Level::kDebug), written(log::Level::kInfo),
                         written(log::Level::kWarn), written(log::Level::kError)}),
          CounterFamily("prov_log_records_suppressed_total",
                        "Log records dropped by the per-statement rate limit (a 'suppressed K "
                        "messages' line follows each site's minute).",
                        {}, {{"", logger.suppressed_total()}})};
}

}  // namespace prov::server
