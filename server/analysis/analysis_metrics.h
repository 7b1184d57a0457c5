// AnalysisCollector: the analysis engine's figures for Prometheus, computed at scrape time.
//
//   auto collector = std::make_shared<AnalysisCollector>(*engine);
//   exposer.RegisterCollectable(collector);
//
// prov_flags{severity, rule, status}          flags by severity, rule family and status (gauge)
// prov_bundles{kind="multi_account"|"all"}    bundles (gauge)
// prov_bundles_near_tier                      bundles within 10x below their next compute tier
// prov_analysis_links                         evidence links held (gauge)
// prov_analysis_pending_reports               reports committed but not yet analysed (gauge)
// prov_analysis_queue_capacity                bound of that queue; the writer waits when full
// prov_analysis_reports_total                 reports analysed (counter)
// prov_analysis_save_failures_total           failed saves of analysis changes (counter)
// prov_analysis_busy_seconds_total            time the analysis thread spent working (counter)
// Thread-safe (the engine's Read takes its mutex briefly).
#pragma once

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/analysis/analysis_engine.h"

namespace prov::server {

class AnalysisCollector final : public prometheus::Collectable {
 public:
  explicit AnalysisCollector(AnalysisEngine& engine) : engine_(engine) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  AnalysisEngine& engine_;
};

}  // namespace prov::server
