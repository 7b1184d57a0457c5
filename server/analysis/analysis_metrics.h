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
// prov_analysis_leading                       1 when this engine evaluates and saves (gauge)
// prov_analysis_dropped_not_leader_total      observations and node events dropped: not leading
// prov_analysis_deposed_total                 saves refused: a newer leader term began (counter)
// prov_analysis_reloads_total{result}         state reloaded from the store: ok / failed (counter)
//
// IngestFeedCollector: the leader's batch-log feed (ingest_feed.h), registered by provd on
// PostgreSQL:
//   auto feed_collector = std::make_shared<IngestFeedCollector>(feed);
// prov_analysis_feed_batches_total            batches read from the log (counter)
// prov_analysis_feed_reports_total            observations handed to the engine (counter)
// prov_analysis_feed_node_events_total        node events handed to the engine (counter)
// prov_analysis_feed_decode_errors_total      batches whose record did not decode (counter)
// prov_analysis_feed_read_errors_total        failed reads of the log (counter)
// prov_analysis_feed_seen                     batches held above the position's horizon (gauge)
// prov_analysis_feed_lag_seconds              age of the oldest batch read while behind (gauge)
// Thread-safe (the engine's Read takes its mutex briefly).
#pragma once

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/analysis/analysis_engine.h"
#include "server/analysis/ingest_feed.h"

namespace prov::server {

class AnalysisCollector final : public prometheus::Collectable {
 public:
  explicit AnalysisCollector(AnalysisEngine& engine) : engine_(engine) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  AnalysisEngine& engine_;
};

class IngestFeedCollector final : public prometheus::Collectable {
 public:
  explicit IngestFeedCollector(const IngestFeed& feed) : feed_(feed) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const IngestFeed& feed_;
};

}  // namespace prov::server
