// AccessCollector: who is being turned away, for Prometheus, computed at scrape time.
//
//   exposer.RegisterCollectable(std::make_shared<AccessCollector>(auth, tokens));
//
// prov_auth_failures_total{reason="unauthenticated"|"denied"}   refused calls (counter): no or
//                                                               unknown credentials / role too low
// prov_api_tokens{role, state="live"|"revoked"}                 issued tokens (gauge)
// Thread-safe.
#pragma once

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/access/authenticator.h"
#include "server/access/token_store.h"

namespace prov::server {

class AccessCollector final : public prometheus::Collectable {
 public:
  AccessCollector(const Authenticator& auth, const TokenStore& tokens)
      : auth_(auth), tokens_(tokens) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Authenticator& auth_;
  const TokenStore& tokens_;
};

}  // namespace prov::server
