#include "server/export/export_metrics.h"

#include <string>

namespace prov::server {
namespace {

prometheus::ClientMetric Value(prometheus::MetricType type, double value,
                               const std::string& trigger = "") {
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  if (!trigger.empty()) m.label.push_back({"trigger", trigger});
  return m;
}

}  // namespace

std::vector<prometheus::MetricFamily> ExportCollector::Collect() const {
  using prometheus::MetricType;
  absl::StatusOr<ExportStats> stats = exporter_.Stats();
  if (!stats.ok()) return {};  // the store is unreadable: provd's own metrics say so
  prometheus::MetricFamily total{
      "prov_exports_total", "Audit exports recorded, by trigger.", MetricType::Counter, {}};
  prometheus::MetricFamily last{"prov_export_last_timestamp_seconds",
                                "When the newest audit export of each trigger was made.",
                                MetricType::Gauge,
                                {}};
  for (const char* trigger : {"schedule", "request"}) {
    auto it = stats->by_trigger.find(trigger);
    const ExportStats::Trigger t =
        it == stats->by_trigger.end() ? ExportStats::Trigger{} : it->second;
    total.metric.push_back(Value(MetricType::Counter, static_cast<double>(t.exports), trigger));
    if (t.exports > 0) last.metric.push_back(Value(MetricType::Gauge, t.last_us / 1e6, trigger));
  }
  prometheus::MetricFamily failures{"prov_export_failures_total",
                                    "Audit export runs that failed since provd started.",
                                    MetricType::Counter,
                                    {}};
  failures.metric.push_back(Value(MetricType::Counter, static_cast<double>(stats->failures)));
  prometheus::MetricFamily duration{"prov_export_last_duration_seconds",
                                    "How long the last successful audit export took.",
                                    MetricType::Gauge,
                                    {}};
  duration.metric.push_back(Value(MetricType::Gauge, stats->last_duration_seconds));
  std::vector<prometheus::MetricFamily> out = {std::move(total), std::move(failures),
                                               std::move(duration)};
  if (!last.metric.empty()) out.push_back(std::move(last));
  return out;
}

}  // namespace prov::server
