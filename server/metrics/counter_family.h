// CounterFamily: one Prometheus counter family with a single label, for the collectors that
// compute their figures at scrape time (web_metrics, tls_collector, log_collector, ...).
//
//   families.push_back(CounterFamily("prov_web_tls_reloads_total", "help text", "result",
//                                    {{"ok", counts.reloads}, {"failed", counts.failed}}));
//   families.push_back(CounterFamily("prov_log_records_suppressed_total", "help", {}, {{"", n}}));
//
// An empty `label` makes one unlabelled sample (its value name is ignored). Header-only: the
// web and metrics libraries both use it without linking each other.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"
#include "prometheus/metric_type.h"

namespace prov::server {

inline prometheus::MetricFamily CounterFamily(
    std::string name, std::string help, const std::string& label,
    std::initializer_list<std::pair<std::string, uint64_t>> values) {
  prometheus::MetricFamily family{
      std::move(name), std::move(help), prometheus::MetricType::Counter, {}};
  for (const auto& [value, n] : values) {
    prometheus::ClientMetric m;
    if (!label.empty()) m.label.push_back({label, value});
    m.counter.value = static_cast<double>(n);
    family.metric.push_back(std::move(m));
  }
  return family;
}

}  // namespace prov::server
