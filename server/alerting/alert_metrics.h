// AlertMetrics: the alert notifier's Prometheus metrics, on provd's registry.
//
//   AlertMetrics metrics(*registry, {"http://am-1:9093", "http://am-2:9093"});
//   metrics.firing.Set(3);
//   metrics.receivers[0].posts_ok.Increment();
//
// Names (all with HELP text):
//   prov_alerts_firing                              flags posted to Alertmanager as firing
//   prov_alert_resolutions_pending                  resolutions not yet accepted by every
//                                                   Alertmanager (delivered when it is back)
//   prov_alert_posts_total{alertmanager,result}     POSTs by result: ok, error (retried),
//                                                   rejected (HTTP 4xx, logged with the body)
//   prov_alertmanager_up{alertmanager}              1 when the last POST succeeded
//   prov_alertmanager_last_success_timestamp_seconds{alertmanager}
//   prov_alert_delivery_log_failures_total          failed writes of the alert_deliveries table
// Thread-safety: prometheus-cpp metrics are thread-safe.
#pragma once

#include <string>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace prov::server {

class AlertMetrics {
 public:
  AlertMetrics(prometheus::Registry& registry, const std::vector<std::string>& urls);

  struct Receiver {
    prometheus::Counter& posts_ok;
    prometheus::Counter& posts_error;
    prometheus::Counter& posts_rejected;
    prometheus::Gauge& up;
    prometheus::Gauge& last_success;
  };
  prometheus::Gauge& firing;
  prometheus::Gauge& resolutions_pending;
  prometheus::Counter& log_failures;
  std::vector<Receiver> receivers;  // in the order of `urls`
};

}  // namespace prov::server
