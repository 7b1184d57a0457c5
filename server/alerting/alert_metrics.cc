#include "server/alerting/alert_metrics.h"

namespace prov::server {

AlertMetrics::AlertMetrics(prometheus::Registry& registry, const std::vector<std::string>& urls)
    : firing(prometheus::BuildGauge()
                 .Name("prov_alerts_firing")
                 .Help("Flags posted to Alertmanager as firing (at or above the alerting "
                       "severity, case not resolved).")
                 .Register(registry)
                 .Add({})),
      resolutions_pending(prometheus::BuildGauge()
                              .Name("prov_alert_resolutions_pending")
                              .Help("Alert resolutions (closed cases, superseded label sets) not "
                                    "yet accepted by every Alertmanager; kept and retried.")
                              .Register(registry)
                              .Add({})),
      log_failures(prometheus::BuildCounter()
                       .Name("prov_alert_delivery_log_failures_total")
                       .Help("Failed writes of the alert_deliveries table (retried).")
                       .Register(registry)
                       .Add({})) {
  auto& posts = prometheus::BuildCounter()
                    .Name("prov_alert_posts_total")
                    .Help(
                        "POSTs to Alertmanager's /api/v2/alerts by result: ok; error "
                        "(unreachable, timeout, 5xx: retried with backoff); rejected (4xx, "
                        "logged with the response body).")
                    .Register(registry);
  auto& up = prometheus::BuildGauge()
                 .Name("prov_alertmanager_up")
                 .Help("1 when the last POST to this Alertmanager succeeded, else 0.")
                 .Register(registry);
  auto& last = prometheus::BuildGauge()
                   .Name("prov_alertmanager_last_success_timestamp_seconds")
                   .Help("Unix time of the last successful POST to this Alertmanager.")
                   .Register(registry);
  for (const std::string& url : urls) {
    receivers.push_back(Receiver{posts.Add({{"alertmanager", url}, {"result", "ok"}}),
                                 posts.Add({{"alertmanager", url}, {"result", "error"}}),
                                 posts.Add({{"alertmanager", url}, {"result", "rejected"}}),
                                 up.Add({{"alertmanager", url}}),
                                 last.Add({{"alertmanager", url}})});
  }
}

}  // namespace prov::server
