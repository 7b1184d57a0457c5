// ProvdMetrics: every Prometheus metric provd exports, registered on one registry.
//
//   auto registry = std::make_shared<prometheus::Registry>();
//   ProvdMetrics metrics(registry);                     // keeps the registry alive
//   metrics.reports_ingested.Increment(n);
//   metrics.Rejected("accelerators[].pci_address");
//   registry->Register... / exposer.RegisterCollectable(registry);
//   exposer.RegisterCollectable(std::make_shared<StoreCollector>(reader));  // nodes, accelerators
//
// Names (all with HELP text):
//   prov_reports_ingested_total            reports stored (duplicates not included)
//   prov_reports_rejected_total{field}     reports rejected by validation, by offending field
//   prov_reports_duplicate_total           resent reports acknowledged without storing again
//   prov_ingest_streams                    open agent streams
//   prov_ingest_queue_depth                reports waiting for the writer
//   prov_ingest_parked_streams             streams paused because the queue is full
//   prov_ingest_parks_total                times a stream paused reading (back-pressure events)
//   prov_commit_latency_seconds            histogram of one batch transaction's duration
//   prov_commit_batch_reports              histogram of reports per committed batch
//   prov_commit_failures_total             batch transactions that failed (nothing acked)
//   prov_acks_sent_total                   acks written to agents
//   prov_nodes, prov_accelerators{vendor,model}   computed from the store at scrape time
// Thread-safety: prometheus-cpp metrics are thread-safe; so is Rejected().
#pragma once

#include <memory>
#include <string>

#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace prov::server {

class StoreReader;

class ProvdMetrics {
 public:
  explicit ProvdMetrics(std::shared_ptr<prometheus::Registry> registry);
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  void Rejected(const std::string& field) { rejected_family_.Add({{"field", field}}).Increment(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;  // first: the references below point into it

 public:
  prometheus::Counter& reports_ingested;
  prometheus::Counter& reports_duplicate;
  prometheus::Gauge& streams;
  prometheus::Gauge& queue_depth;
  prometheus::Gauge& parked_streams;
  prometheus::Counter& parks;
  prometheus::Histogram& commit_latency_seconds;
  prometheus::Histogram& commit_batch_reports;
  prometheus::Counter& commit_failures;
  prometheus::Counter& acks_sent;

 private:
  prometheus::Family<prometheus::Counter>& rejected_family_;
};

// prov_nodes and prov_accelerators{vendor,model}, read from the store when Prometheus scrapes.
class StoreCollector final : public prometheus::Collectable {
 public:
  explicit StoreCollector(StoreReader& reader) : reader_(reader) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  StoreReader& reader_;
};

}  // namespace prov::server
