// WebCollector: the dashboard's connection gate for Prometheus, computed at scrape time.
//
//   exposer.RegisterCollectable(std::make_shared<WebCollector>(*web_server));
//
// prov_web_connections_total                            connections accepted (counter)
// prov_web_connections_refused_total{reason="per_peer"|"full"|"timeout"|"headers_too_large"|
//                                    "tls_handshake_timeout"|"tls_handshake_failed"|
//                                    "plain_http_on_tls"}
//     connections refused or cut: over the per-address limit (429), over the total (503), the
//     request not in within the header timeout (408), headers too large (431); with HTTPS, the
//     TLS handshake not done within the header timeout, a failed handshake, plain HTTP sent to
//     the HTTPS port (400) (counter)
// prov_web_tls_reloads_total{result="ok"|"failed"}
//     the HTTPS certificate files changed on disk and were loaded, or did not load (the previous
//     certificate stays) (web_tls_reloader.h) (counter)
// Thread-safe.
#pragma once

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/web/web_server.h"

namespace prov::server::web {

class WebCollector final : public prometheus::Collectable {
 public:
  explicit WebCollector(const WebServer& web) : web_(web) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const WebServer& web_;
};

}  // namespace prov::server::web
