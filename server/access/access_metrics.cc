#include "server/access/access_metrics.h"

#include <map>
#include <string>
#include <utility>

#include "server/access/role.h"

namespace prov::server {

std::vector<prometheus::MetricFamily> AccessCollector::Collect() const {
  const AuthCounters counters = auth_.counters();
  prometheus::MetricFamily failures{
      "prov_auth_failures_total",
      "Calls refused: no or unknown credentials, a role too low, or rate limited.",
      prometheus::MetricType::Counter,
      {}};
  for (const auto& [reason, n] :
       {std::pair<const char*, uint64_t>{"unauthenticated", counters.unauthenticated},
        {"denied", counters.denied},
        {"rate_limited", counters.rate_limited}}) {
    prometheus::ClientMetric m;
    m.label.push_back({"reason", reason});
    m.counter.value = static_cast<double>(n);
    failures.metric.push_back(std::move(m));
  }
  std::map<std::pair<std::string, std::string>, int> counts;
  for (const char* role : {"viewer", "analyst", "admin"}) {
    counts[{role, "live"}] = 0;
    counts[{role, "revoked"}] = 0;
  }
  for (const auto& t : tokens_.List())
    ++counts[{RoleName(t.role()), t.revoked() ? "revoked" : "live"}];
  prometheus::MetricFamily tokens{"prov_api_tokens",
                                  "Bearer tokens issued, by role and state.",
                                  prometheus::MetricType::Gauge,
                                  {}};
  for (const auto& [key, n] : counts) {
    prometheus::ClientMetric m;
    m.label.push_back({"role", key.first});
    m.label.push_back({"state", key.second});
    m.gauge.value = n;
    tokens.metric.push_back(std::move(m));
  }
  auto single = [](const char* name, const char* help, prometheus::MetricType type, double v) {
    prometheus::MetricFamily f{name, help, type, {}};
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter) {
      m.counter.value = v;
    } else {
      m.gauge.value = v;
    }
    f.metric.push_back(std::move(m));
    return f;
  };
  std::vector<prometheus::MetricFamily> out = {failures, tokens};
  if (limiter_ != nullptr) {
    out.push_back(single("prov_auth_rate_limited_total",
                         "Attempts refused without checking credentials: too many failed "
                         "authentications from the address (gRPC and dashboard).",
                         prometheus::MetricType::Counter,
                         static_cast<double>(limiter_->limited())));
    out.push_back(single("prov_auth_rate_limited_peers",
                         "Addresses the failed-authentication limiter is tracking.",
                         prometheus::MetricType::Gauge, static_cast<double>(limiter_->tracked())));
  }
  if (denials_ != nullptr) {
    prometheus::MetricFamily audit{"prov_audit_denied_entries_total",
                                   "PERMISSION_DENIED calls: audit entries written, left out by "
                                   "the per-actor limit, or failed to write.",
                                   prometheus::MetricType::Counter,
                                   {}};
    for (const auto& [outcome, n] :
         {std::pair<const char*, uint64_t>{"written", denials_->recorded()},
          {"suppressed", denials_->suppressed()},
          {"error", denials_->write_errors()}}) {
      prometheus::ClientMetric m;
      m.label.push_back({"outcome", outcome});
      m.counter.value = static_cast<double>(n);
      audit.metric.push_back(std::move(m));
    }
    out.push_back(std::move(audit));
  }
  return out;
}

}  // namespace prov::server
