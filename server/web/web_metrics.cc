#include "server/web/web_metrics.h"

#include <utility>

namespace prov::server::web {

std::vector<prometheus::MetricFamily> WebCollector::Collect() const {
  const GateCounters c = web_.connection_counters();
  prometheus::MetricFamily accepted{"prov_web_connections_total",
                                    "Dashboard connections accepted.",
                                    prometheus::MetricType::Counter,
                                    {}};
  prometheus::ClientMetric a;
  a.counter.value = static_cast<double>(c.accepted);
  accepted.metric.push_back(std::move(a));
  prometheus::MetricFamily refused{
      "prov_web_connections_refused_total",
      "Dashboard connections refused or cut: per-address limit (429), total limit (503), request "
      "not in within the header timeout (408), headers too large (431); with HTTPS: TLS "
      "handshake not done within the header timeout, handshake failed, plain HTTP (400).",
      prometheus::MetricType::Counter,
      {}};
  for (const auto& [reason, n] : {std::pair<const char*, uint64_t>{"per_peer", c.refused_per_peer},
                                  {"full", c.refused_full},
                                  {"timeout", c.timed_out},
                                  {"headers_too_large", c.too_large},
                                  {"tls_handshake_timeout", c.tls_handshake_timeout},
                                  {"tls_handshake_failed", c.tls_handshake_failed},
                                  {"plain_http_on_tls", c.tls_plain_http}}) {
    prometheus::ClientMetric m;
    m.label.push_back({"reason", reason});
    m.counter.value = static_cast<double>(n);
    refused.metric.push_back(std::move(m));
  }
  prometheus::MetricFamily reloads{
      "prov_web_tls_reloads_total",
      "Dashboard TLS certificate files that changed on disk: loaded and served (ok), or not "
      "loadable so the previous certificate stays (failed).",
      prometheus::MetricType::Counter,
      {}};
  for (const auto& [result, n] :
       {std::pair<const char*, uint64_t>{"ok", c.tls_reloads}, {"failed", c.tls_reload_failures}}) {
    prometheus::ClientMetric m;
    m.label.push_back({"result", result});
    m.counter.value = static_cast<double>(n);
    reloads.metric.push_back(std::move(m));
  }
  return {accepted, refused, reloads};
}

}  // namespace prov::server::web
