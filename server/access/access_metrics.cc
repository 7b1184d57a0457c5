#include "server/access/access_metrics.h"

#include <map>
#include <string>
#include <utility>

#include "server/access/role.h"

namespace prov::server {

std::vector<prometheus::MetricFamily> AccessCollector::Collect() const {
  const AuthCounters counters = auth_.counters();
  prometheus::MetricFamily failures{"prov_auth_failures_total",
                                    "Calls refused: no or unknown credentials, or a role too low.",
                                    prometheus::MetricType::Counter,
                                    {}};
  for (const auto& [reason, n] :
       {std::pair<const char*, uint64_t>{"unauthenticated", counters.unauthenticated},
        {"denied", counters.denied}}) {
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
  return {failures, tokens};
}

}  // namespace prov::server
