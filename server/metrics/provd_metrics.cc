#include "server/metrics/provd_metrics.h"

#include <map>
#include <utility>

#include "common/version.h"
#include "prometheus/metric_family.h"
#include "server/store/repo/fleet_reader.h"

namespace prov::server {
namespace {

prometheus::Counter& MakeCounter(prometheus::Registry& registry, const std::string& name,
                                 const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}
// Registered twice with the same name and help: the registry (InsertBehavior::Merge) returns the
// same family.
prometheus::Family<prometheus::Counter>& CommitFailuresFamily(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("prov_commit_failures_total")
      .Help(
          "Batch transactions that failed, by reason (disk_full: no space where the database "
          "lives; busy; other); their reports were not acknowledged and the agents resend them.")
      .Register(registry);
}

prometheus::Family<prometheus::Counter>& AdjustedFamily(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("prov_ledger_timestamp_adjusted_total")
      .Help(
          "Stored reports whose collected_at provd's clock overrode for the ledger: "
          "clock_bound (ahead of what provd saw pass), lag_floor (trailing provd's clock by "
          "more than the maximum report lag).")
      .Register(registry);
}
prometheus::Gauge& MakeGauge(prometheus::Registry& registry, const std::string& name,
                             const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::ClientMetric GaugeSample(double value,
                                     std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  return metric;
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
      reports_dropped_after_failure(MakeCounter(
          *registry_, "prov_reports_dropped_after_failure_total",
          "Queued agent reports not stored because an earlier commit of their stream failed: "
          "storing them would pass the failed ones, which the agent resends in order.")),
      streams(MakeGauge(*registry_, "prov_ingest_streams", "Agent report streams open now.")),
      queue_depth(MakeGauge(*registry_, "prov_ingest_queue_depth",
                            "Validated reports waiting for the ingest writer.")),
      queue_capacity(MakeGauge(*registry_, "prov_ingest_queue_capacity",
                               "Bound of the ingest queue (--queue-capacity); streams park when "
                               "prov_ingest_queue_depth reaches it.")),
      queue_bytes(MakeGauge(*registry_, "prov_ingest_queue_bytes",
                            "Serialized bytes of the validated reports waiting for the ingest "
                            "writer.")),
      queue_capacity_bytes(MakeGauge(*registry_, "prov_ingest_queue_capacity_bytes",
                                     "Byte bound of the ingest queue (--queue-max-bytes); streams "
                                     "park when the next report would pass it.")),
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
      commit_failures_disk_full(CommitFailuresFamily(*registry_).Add({{"reason", "disk_full"}})),
      commit_failures_busy(CommitFailuresFamily(*registry_).Add({{"reason", "busy"}})),
      commit_failures_other(CommitFailuresFamily(*registry_).Add({{"reason", "other"}})),
      acks_sent(MakeCounter(*registry_, "prov_acks_sent_total",
                            "Acknowledgements written to agents (one per stream per batch).")),
      start_time_seconds(MakeGauge(*registry_, "prov_start_time_seconds",
                                   "When this provd process started, in Unix seconds.")),
      leader(MakeGauge(*registry_, "prov_leader",
                       "1 while this replica leads (runs the analysis engine, the alert notifier, "
                       "the export scheduler and retention), 0 while it stands by.")),
      leader_term(MakeGauge(*registry_, "prov_leader_term",
                            "The leader term this replica leads in (0 while it stands by).")),
      leader_changes(MakeCounter(*registry_, "prov_leader_changes_total",
                                 "Times this replica was elected or deposed.")),
      replica_name_conflicts(
          MakeCounter(*registry_, "prov_replica_name_conflicts_total",
                      "Heartbeats that found this replica's row written by another live replica "
                      "with the same --replica-name since this one's previous heartbeat.")),
      ledger_claimed_seconds(MakeCounter(*registry_, "prov_ledger_claimed_seconds_total",
                                         "interval_seconds claimed by the stored reports (what "
                                         "the ledger would credit if it trusted the claim).")),
      ledger_credited_seconds(MakeCounter(*registry_, "prov_ledger_credited_seconds_total",
                                          "Node-seconds the ledger credited to stored reports: "
                                          "the time that elapsed between a node's reports.")),
      ledger_evidence_gaps(MakeCounter(*registry_, "prov_ledger_evidence_gaps_total",
                                       "Stored reports that closed an evidence gap (more than a "
                                       "few claimed intervals since the node's previous one).")),
      ledger_evidence_gap_seconds(
          MakeCounter(*registry_, "prov_ledger_evidence_gap_seconds_total",
                      "Node-seconds inside evidence gaps (credited as an estimate with a widened "
                      "FLOP range, not dropped).")),
      ledger_clock_bound(AdjustedFamily(*registry_).Add({{"reason", "clock_bound"}})),
      ledger_lag_floor(AdjustedFamily(*registry_).Add({{"reason", "lag_floor"}})),
      rejected_family_(prometheus::BuildCounter()
                           .Name("prov_reports_rejected_total")
                           .Help("Agent reports rejected (not stored), by the offending field: a "
                                 "validation failure, \"frame\" (did not parse as a NodeReport, "
                                 "or larger than --max-report-bytes), \"seq\" (implausibly far "
                                 "ahead of the node's stored reports).")
                           .Register(*registry_)),
      streams_ended_family_(
          prometheus::BuildCounter()
              .Name("prov_ingest_streams_ended_total")
              .Help("Agent streams ended, by how: ok, error (provd ended it with an error), "
                    "cancelled (the peer left or abandoned it), ack_undelivered (it ended with an "
                    "ack write still pending: a peer that stopped reading its acks).")
              .Register(*registry_)),
      day_partitions_created_(
          MakeCounter(*registry_, "prov_pg_day_partitions_created_total",
                      "PostgreSQL: day partitions of reports and account_usage_hourly this "
                      "replica's ingest created ahead (yesterday to the day after tomorrow).")),
      day_partition_failures_(MakeCounter(
          *registry_, "prov_pg_day_partition_failures_total",
          "PostgreSQL: attempts to create the day partitions ahead that failed (ingest goes on; "
          "rows of a day without a partition go to the DEFAULT partition; retried a minute "
          "later).")),
      default_partition_rows_family_(
          prometheus::BuildGauge()
              .Name("prov_pg_default_partition_rows")
              .Help("PostgreSQL: rows in the table's DEFAULT partition at the last attempt to "
                    "create the day partitions (once a day, and a minute after a failure; counted "
                    "up to 1,000,000). Should stay 0: rows there are reports of days with no "
                    "partition, which retention cannot drop whole and every partition creation "
                    "scans.")
              .Register(*registry_)) {
  for (const char* how : {"ok", "error", "cancelled", "ack_undelivered"}) {
    streams_ended_family_.Add({{"how", how}});
  }
  prometheus::BuildGauge()
      .Name("prov_build_info")
      .Help("Always 1; the label carries provd's version.")
      .Register(*registry_)
      .Add({{"version", kVersion}})
      .Set(1);
}

std::vector<prometheus::MetricFamily> StoreCollector::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  families.reserve(7);  // family() hands out pointers into it: never reallocate
  auto family = [&families](const char* name, const char* help, prometheus::MetricType type) {
    families.push_back({name, help, type, {}});
    return &families.back().metric;
  };
  // A failed read leaves its family without samples (absent, not zero) and is counted.
  auto failed = [this] { read_errors_.fetch_add(1, std::memory_order_relaxed); };
  std::vector<prometheus::ClientMetric>* nodes =
      family("prov_nodes", "Nodes known to provd (ever reported).", prometheus::MetricType::Gauge);
  if (auto count = reader_.CountNodes(); count.ok()) {
    nodes->push_back(GaugeSample(static_cast<double>(*count), {}));
  } else {
    failed();
  }
  std::vector<prometheus::ClientMetric>* reporting =
      family("prov_nodes_reporting",
             "Nodes whose newest report was collected within prov_silent_after_seconds, by data "
             "centre.",
             prometheus::MetricType::Gauge);
  std::vector<prometheus::ClientMetric>* silent =
      family("prov_nodes_silent",
             "Nodes without a report collected within prov_silent_after_seconds (silent), by data "
             "centre.",
             prometheus::MetricType::Gauge);
  if (auto counts = reader_.CountNodesByDatacenter(clock_.Now() - silent_after_); counts.ok()) {
    // "" and a literal "unknown" share one label value: merge them so no series repeats.
    std::map<std::string, std::pair<int64_t, int64_t>> by_dc;
    for (const DatacenterNodeCount& c : *counts) {
      auto& [up, down] = by_dc[c.datacenter.empty() ? "unknown" : c.datacenter];
      up += c.reporting;
      down += c.silent;
    }
    for (const auto& [dc, n] : by_dc) {
      reporting->push_back(GaugeSample(static_cast<double>(n.first), {{"datacenter", dc}}));
      silent->push_back(GaugeSample(static_cast<double>(n.second), {{"datacenter", dc}}));
    }
  } else {
    failed();
  }
  std::vector<prometheus::ClientMetric>* rejecting =
      family("prov_nodes_rejecting",
             "Nodes heard from within prov_silent_after_seconds whose reports since their last "
             "stored one were all rejected: sending, but nothing stored (provctl node shows why).",
             prometheus::MetricType::Gauge);
  if (auto count = reader_.CountRejectingNodes(clock_.Now() - silent_after_); count.ok()) {
    rejecting->push_back(GaugeSample(static_cast<double>(*count), {}));
  } else {
    failed();
  }
  std::vector<prometheus::ClientMetric>* lost =
      family("prov_agent_reports_lost",
             "Reports the fleet's agents lost before sending them, as their newest reports say "
             "(cumulative per agent spool): dropped (spool full) or unreadable (spool file "
             "corrupt). provctl node shows each agent's.",
             prometheus::MetricType::Gauge);
  if (auto losses = reader_.SumAgentLosses(); losses.ok()) {
    lost->push_back(GaugeSample(static_cast<double>(losses->dropped), {{"kind", "dropped"}}));
    lost->push_back(GaugeSample(static_cast<double>(losses->unreadable), {{"kind", "unreadable"}}));
  } else {
    failed();
  }
  family("prov_silent_after_seconds",
         "A node without a report collected for this long counts as silent (--silent-after).",
         prometheus::MetricType::Gauge)
      ->push_back(GaugeSample(absl::ToDoubleSeconds(silent_after_), {}));
  std::vector<prometheus::ClientMetric>* accelerators =
      family("prov_accelerators", "Accelerators in the inventory, by vendor and model.",
             prometheus::MetricType::Gauge);
  if (auto counts = reader_.CountAccelerators(); counts.ok()) {
    for (const AcceleratorCount& c : *counts) {
      accelerators->push_back(
          GaugeSample(static_cast<double>(c.count), {{"model", c.model}, {"vendor", c.vendor}}));
    }
  } else {
    failed();
  }
  prometheus::ClientMetric errors;
  errors.counter.value = static_cast<double>(read_errors_.load(std::memory_order_relaxed));
  family("prov_store_read_errors_total",
         "Store reads at scrape time that failed; the families they feed have no samples then.",
         prometheus::MetricType::Counter)
      ->push_back(errors);
  return families;
}

const char* CommitFailureReason(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
      return "disk_full";
    case absl::StatusCode::kUnavailable:
      return "busy";
    default:
      return "other";
  }
}

void ProvdMetrics::DayPartitionsMade(bool ok, int created) {
  if (ok) {
    day_partitions_created_.Increment(created);
  } else {
    day_partition_failures_.Increment();
  }
}

void ProvdMetrics::DefaultPartitionRows(const std::string& table, int64_t rows) {
  if (rows >= 0)
    default_partition_rows_family_.Add({{"table", table}}).Set(static_cast<double>(rows));
}

const char* ProvdMetrics::CommitFailed(const absl::Status& status) {
  const char* reason = CommitFailureReason(status);
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
      commit_failures_disk_full.Increment();
      break;
    case absl::StatusCode::kUnavailable:
      commit_failures_busy.Increment();
      break;
    default:
      commit_failures_other.Increment();
  }
  return reason;
}

}  // namespace prov::server
