#include "server/metrics/tls_collector.h"

#include "server/metrics/counter_family.h"

namespace prov::server {

std::vector<prometheus::MetricFamily> TlsCollector::Collect() const {
  const TlsFileStager::Counts c = stager_->counts();
  return {CounterFamily(
      "prov_grpc_tls_reloads_total",
      "gRPC listeners' TLS files that changed on disk: checked and served (ok), or not checking "
      "out so the previous certificate stays (failed, counted at each check).",
      "result", {{"ok", c.reloads}, {"failed", c.failed}})};
}

}  // namespace prov::server
