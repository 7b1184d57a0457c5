// TlsCollector: the gRPC listeners' certificate rotation (common/grpc/tls_stager.h) for
// Prometheus, computed at scrape time.
//
//   exposer.RegisterCollectable(std::make_shared<TlsCollector>(stager));
//
// prov_grpc_tls_reloads_total{result="ok"|"failed"}
//     the gRPC listeners' TLS files (--tls-cert, --tls-key, --tls-client-ca) changed on disk and
//     were checked and served (ok), or did not check out so the previous certificate stays
//     (failed; counted at each check until they do) (counter)
// Thread-safe.
#pragma once

#include <memory>
#include <vector>

#include "common/grpc/tls_stager.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace prov::server {

class TlsCollector final : public prometheus::Collectable {
 public:
  explicit TlsCollector(std::shared_ptr<const TlsFileStager> stager) : stager_(std::move(stager)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::shared_ptr<const TlsFileStager> stager_;
};

}  // namespace prov::server
