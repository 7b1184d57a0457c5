#include "server/metrics/tls_collector.h"

#include <utility>

namespace prov::server {

std::vector<prometheus::MetricFamily> TlsCollector::Collect() const {
  const TlsFileStager::Counts c = stager_->counts();
  prometheus::MetricFamily reloads{
      "prov_grpc_tls_reloads_total",
      "gRPC listeners' TLS files that changed on disk: checked and served (ok), or not checking "
      "out so the previous certificate stays (failed, counted at each check).",
      prometheus::MetricType::Counter,
      {}};
  for (const auto& [result, n] :
       {std::pair<const char*, uint64_t>{"ok", c.reloads}, {"failed", c.failed}}) {
    prometheus::ClientMetric m;
    m.label.push_back({"result", result});
    m.counter.value = static_cast<double>(n);
    reloads.metric.push_back(std::move(m));
  }
  return {reloads};
}

}  // namespace prov::server
