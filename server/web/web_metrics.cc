#include "server/web/web_metrics.h"

#include "server/metrics/counter_family.h"

namespace prov::server::web {

std::vector<prometheus::MetricFamily> WebCollector::Collect() const {
  const GateCounters c = web_.connection_counters();
  return {
      CounterFamily("prov_web_connections_total", "Dashboard connections accepted.", {},
                    {{"", c.accepted}}),
      CounterFamily(
          "prov_web_connections_refused_total",
          "Dashboard connections refused or cut: per-address limit (429), total limit (503), "
          "request not in within the header timeout (408), headers too large (431); with HTTPS: "
          "TLS handshake not done within the header timeout, handshake failed, plain HTTP (400).",
          "reason",
          {{"per_peer", c.refused_per_peer},
           {"full", c.refused_full},
           {"timeout", c.timed_out},
           {"headers_too_large", c.too_large},
           {"tls_handshake_timeout", c.tls_handshake_timeout},
           {"tls_handshake_failed", c.tls_handshake_failed},
           {"plain_http_on_tls", c.tls_plain_http}}),
      CounterFamily("prov_web_tls_reloads_total",
                    "Dashboard TLS certificate files that changed on disk: loaded and served (ok), "
                    "or not loadable so the previous certificate stays (failed).",
                    "result", {{"ok", c.tls_reloads}, {"failed", c.tls_reload_failures}})};
}

}  // namespace prov::server::web
