// Prometheus text scraping for the replica benchmark: one GET of a provd /metrics page and the
// value of a metric in it.
//
//   absl::StatusOr<std::string> page = ScrapeMetrics("127.0.0.1", 9464);
//   absl::StatusOr<double> leading = MetricValue(*page, "prov_leader");
//   absl::StatusOr<double> analysed = MetricValue(*page, "prov_analysis_reports_total");
//
// MetricValue sums every sample of the family whose name matches exactly (labels ignored):
// `prov_x{a="1"} 2` and `prov_x{a="2"} 3` give 5; `prov_x_total` does not match `prov_x`.
// NOT_FOUND when the page has no sample of that name. Thread-safety: free functions.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::bench {

absl::StatusOr<std::string> ScrapeMetrics(const std::string& host, int port);
absl::StatusOr<double> MetricValue(absl::string_view page, absl::string_view name);

}  // namespace prov::bench
