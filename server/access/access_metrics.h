// AccessCollector: who is being turned away, for Prometheus, computed at scrape time.
//
//   exposer.RegisterCollectable(
//       std::make_shared<AccessCollector>(auth, tokens, &limiter, &denial_auditor));
//
// prov_auth_failures_total{reason="unauthenticated"|"denied"|"rate_limited"}
//                                                               refused gRPC calls (counter): no or
//                                                               unknown credentials / role too low
//                                                               / address over the failure limit
// prov_auth_rate_limited_total                                  attempts refused unchecked: too
//                                                               many failed authentications from
//                                                               the address (gRPC and dashboard)
// prov_auth_rate_limited_peers                                  addresses the limiter tracks
// (gauge) prov_audit_denied_entries_total{outcome="written"|"suppressed"|"error"}
//                                                               PERMISSION_DENIED audit entries
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
  // `limiter` and `denials` may be null.
  AccessCollector(const Authenticator& auth, const TokenStore& tokens,
                  const FailedAuthLimiter* limiter, const DenialAuditor* denials)
      : auth_(auth), tokens_(tokens), limiter_(limiter), denials_(denials) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Authenticator& auth_;
  const TokenStore& tokens_;
  const FailedAuthLimiter* limiter_;
  const DenialAuditor* denials_;
};

}  // namespace prov::server
