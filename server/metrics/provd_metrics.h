// ProvdMetrics: every Prometheus metric provd exports, registered on one registry.
//
//   auto registry = std::make_shared<prometheus::Registry>();
//   ProvdMetrics metrics(registry);                     // keeps the registry alive
//   metrics.reports_ingested.Increment(n);
//   metrics.Rejected("accelerators[].pci_address");
//   registry->Register... / exposer.RegisterCollectable(registry);
//   metrics.queue_capacity.Set(capacity); metrics.start_time_seconds.Set(...);  // once, at start
//   exposer.RegisterCollectable(
//       std::make_shared<StoreCollector>(reader, clock, /*silent_after=*/absl::Seconds(60)));
//
// Names (all with HELP text):
//   prov_reports_ingested_total            reports stored (duplicates not included)
//   prov_reports_rejected_total{field}     reports rejected, by offending field ("frame": did not
//                                          parse or too large; "seq": implausible seq jump)
//   prov_reports_duplicate_total           resent reports acknowledged without storing again
//   prov_reports_dropped_after_failure_total  queued reports of a stream whose commit failed,
//                                          dropped unacked (the agent resends them in order)
//   prov_ingest_streams                    open agent streams
//   prov_ingest_queue_depth                reports waiting for the writer
//   prov_ingest_queue_capacity             the queue's bound (--queue-capacity)
//   prov_ingest_queue_bytes                serialized bytes of the reports waiting for the writer
//   prov_ingest_queue_capacity_bytes       the queue's byte bound (--queue-max-bytes)
//   prov_ingest_parked_streams             streams paused because the queue is full
//   prov_ingest_parks_total                times a stream paused reading (back-pressure events)
//   prov_commit_latency_seconds            histogram of one batch transaction's duration
//   prov_commit_batch_reports              histogram of reports per committed batch
//   prov_commit_failures_total{reason}     batch transactions that failed (nothing acked), by
//                                          reason: disk_full (SQLITE_FULL: the data dir's file
//                                          system has no space), busy, other
//   prov_acks_sent_total                   acks written to agents
//   prov_ingest_streams_ended_total{how}   agent streams ended: ok, error (provd ended it with an
//                                          error), cancelled (the peer left or abandoned it),
//                                          ack_undelivered (it ended with an ack write pending:
//                                          a peer that stopped reading its acks)
//   prov_build_info{version}               always 1
//   prov_start_time_seconds                when this provd started (Unix seconds)
//   prov_ledger_claimed_seconds_total      interval_seconds claimed by stored reports
//   prov_ledger_credited_seconds_total     node-seconds credited (elapsed time, credit.h)
//   prov_ledger_evidence_gaps_total        stored reports whose credited span held an evidence gap
//   prov_ledger_evidence_gap_seconds_total node-seconds inside those gaps (estimated, not dropped)
//   prov_ledger_timestamp_adjusted_total{reason}  reports whose timestamp provd's clock overrode:
//                                          clock_bound (ahead of it), lag_floor (trailing it by
//                                          more than the maximum report lag)
// computed from the store at scrape time (StoreCollector):
//   prov_nodes                             nodes ever seen
//   prov_nodes_reporting{datacenter}       nodes with a report collected within --silent-after
//   prov_nodes_silent{datacenter}          nodes without one (NodeSummary.silent in AuditService)
//   prov_silent_after_seconds              the --silent-after threshold used above
//   prov_nodes_rejecting                   nodes heard from within --silent-after whose reports
//                                          since their last stored one were all rejected
//   prov_agent_reports_lost{kind}          reports the agents lost before sending (their newest
//                                          health: kind=dropped, spool full; unreadable)
//   prov_accelerators{vendor,model}        accelerators in the inventory
//   prov_store_read_errors_total           scrape-time store reads that failed (series then absent)
// A node that reported no data centre is labelled datacenter="unknown".
// Thread-safety: prometheus-cpp metrics are thread-safe; so is Rejected().
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace prov::server {

class FleetReader;

// The `reason` label of prov_commit_failures_total for a failed store write: "disk_full"
// (RESOURCE_EXHAUSTED, SqliteDb's code for SQLITE_FULL), "busy" (UNAVAILABLE) or "other".
const char* CommitFailureReason(const absl::Status& status);

class ProvdMetrics {
 public:
  explicit ProvdMetrics(std::shared_ptr<prometheus::Registry> registry);
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  void Rejected(const std::string& field) { rejected_family_.Add({{"field", field}}).Increment(); }
  // Counts one ended agent stream; `how` is one of ok, error, cancelled, ack_undelivered.
  void StreamEnded(const std::string& how) {
    streams_ended_family_.Add({{"how", how}}).Increment();
  }
  // Counts one failed store write under its reason (CommitFailureReason) and returns the reason.
  const char* CommitFailed(const absl::Status& status);
  // PostgreSQL's day partitions (server/store/pg/pg_partitions.h): one attempt of the ingest
  // repository to make them ahead (`created` of them, or failed), and what a table's DEFAULT
  // partition held then (rows < 0: not counted; the gauge keeps its last figure).
  void DayPartitionsMade(bool ok, int created);
  void DefaultPartitionRows(const std::string& table, int64_t rows);

 private:
  std::shared_ptr<prometheus::Registry> registry_;  // first: the references below point into it

 public:
  prometheus::Counter& reports_ingested;
  prometheus::Counter& reports_duplicate;
  prometheus::Counter& reports_dropped_after_failure;
  prometheus::Gauge& streams;
  prometheus::Gauge& queue_depth;
  prometheus::Gauge& queue_capacity;
  prometheus::Gauge& queue_bytes;
  prometheus::Gauge& queue_capacity_bytes;
  prometheus::Gauge& parked_streams;
  prometheus::Counter& parks;
  prometheus::Histogram& commit_latency_seconds;
  prometheus::Histogram& commit_batch_reports;
  prometheus::Counter& commit_failures_disk_full;
  prometheus::Counter& commit_failures_busy;
  prometheus::Counter& commit_failures_other;
  prometheus::Counter& acks_sent;
  prometheus::Gauge& start_time_seconds;
  prometheus::Gauge& leader;
  prometheus::Gauge& leader_term;
  prometheus::Counter& leader_changes;
  prometheus::Counter& replica_name_conflicts;
  prometheus::Counter& ledger_claimed_seconds;
  prometheus::Counter& ledger_credited_seconds;
  prometheus::Counter& ledger_evidence_gaps;
  prometheus::Counter& ledger_evidence_gap_seconds;
  prometheus::Counter& ledger_clock_bound;
  prometheus::Counter& ledger_lag_floor;

 private:
  prometheus::Family<prometheus::Counter>& rejected_family_;
  prometheus::Family<prometheus::Counter>& streams_ended_family_;
  prometheus::Counter& day_partitions_created_;
  prometheus::Counter& day_partition_failures_;
  prometheus::Family<prometheus::Gauge>& default_partition_rows_family_;
};

// The store's figures (nodes reporting and silent per data centre, accelerators by vendor and
// model), read when Prometheus scrapes. `reader` and `clock` must outlive the collector.
class StoreCollector final : public prometheus::Collectable {
 public:
  StoreCollector(FleetReader& reader, const Clock& clock, absl::Duration silent_after)
      : reader_(reader), clock_(clock), silent_after_(silent_after) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  FleetReader& reader_;
  const Clock& clock_;
  const absl::Duration silent_after_;
  mutable std::atomic<uint64_t> read_errors_{0};
};

}  // namespace prov::server
