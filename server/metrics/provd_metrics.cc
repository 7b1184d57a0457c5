#include "server/metrics/provd_metrics.h"

#include "prometheus/metric_family.h"
#include "server/store/store_reader.h"

namespace prov::server {
namespace {

prometheus::Counter& MakeCounter(prometheus::Registry& registry, const std::string& name,
                                 const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}
prometheus::Gauge& MakeGauge(prometheus::Registry& registry, const std::string& name,
                             const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

ProvdMetrics::ProvdMetrics(std::shared_ptr<prometheus::Registry> registry_ptr)
    : registry_(std::move(registry_ptr)),
      reports_ingested(MakeCounter(*registry_, "prov_reports_ingested_total",
                                   "Agent reports validated and stored (resent duplicates are "
                                   "counted in prov_reports_duplicate_total instead).")),
      reports_duplicate(MakeCounter(*registry_, "prov_reports_duplicate_total",
                                    "Resent agent reports acknowledged without storing them "
                                    "again (seq at or below the node's high-water mark).")),
      streams(MakeGauge(*registry_, "prov_ingest_streams", "Agent report streams open now.")),
      queue_depth(MakeGauge(*registry_, "prov_ingest_queue_depth",
                            "Validated reports waiting for the ingest writer.")),
      parked_streams(MakeGauge(*registry_, "prov_ingest_parked_streams",
                               "Streams paused (not reading) because the ingest queue is full.")),
      parks(MakeCounter(*registry_, "prov_ingest_parks_total",
                        "Times a stream paused reading because the ingest queue was full "
                        "(back-pressure on agents).")),
      commit_latency_seconds(
          prometheus::BuildHistogram()
              .Name("prov_commit_latency_seconds")
              .Help("Duration of one SQLite transaction committing a batch of reports.")
              .Register(*registry_)
              .Add({},
                   prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                           0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5})),
      commit_batch_reports(
          prometheus::BuildHistogram()
              .Name("prov_commit_batch_reports")
              .Help("Reports committed per SQLite transaction (group commit batch size).")
              .Register(*registry_)
              .Add({},
                   prometheus::Histogram::BucketBoundaries{1, 4, 16, 64, 256, 1024, 4096, 16384})),
      commit_failures(MakeCounter(*registry_, "prov_commit_failures_total",
                                  "Batch transactions that failed; their reports were not "
                                  "acknowledged and the agents resend them.")),
      acks_sent(MakeCounter(*registry_, "prov_acks_sent_total",
                            "Acknowledgements written to agents (one per stream per batch).")),
      rejected_family_(prometheus::BuildCounter()
                           .Name("prov_reports_rejected_total")
                           .Help("Agent reports rejected by validation, by the offending field.")
                           .Register(*registry_)) {}

std::vector<prometheus::MetricFamily> StoreCollector::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  prometheus::MetricFamily nodes{
      "prov_nodes", "Nodes known to provd (ever reported).", prometheus::MetricType::Gauge, {}};
  if (auto count = reader_.CountNodes(); count.ok()) {
    prometheus::ClientMetric metric;
    metric.gauge.value = static_cast<double>(*count);
    nodes.metric.push_back(metric);
  }
  families.push_back(std::move(nodes));
  prometheus::MetricFamily accelerators{"prov_accelerators",
                                        "Accelerators in the inventory, by vendor and model.",
                                        prometheus::MetricType::Gauge,
                                        {}};
  if (auto counts = reader_.CountAccelerators(); counts.ok()) {
    for (const AcceleratorCount& c : *counts) {
      prometheus::ClientMetric metric;
      metric.label = {{"model", c.model}, {"vendor", c.vendor}};
      metric.gauge.value = static_cast<double>(c.count);
      accelerators.metric.push_back(std::move(metric));
    }
  }
  families.push_back(std::move(accelerators));
  return families;
}

}  // namespace prov::server
