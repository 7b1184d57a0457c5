// IngestPlan: the rows one ingest batch writes, as plain structs, decided by the ingest planner
// (ingest_planner.h) and written by an engine in the batch's transaction (the SQLite Store's
// statements: store.cc; SCHEMA.md names the tables and columns).
//
//   IngestPlan plan;                                     // reused batch after batch
//   PROV_ASSIGN_OR_RETURN(CommitResult r, planner.Plan(batch, now, state, caches, plan));
//   for (const PlannedReport& p : plan.reports) ...      // one reports row each, in batch order
//   for (const PlannedWorkload& w : plan.workloads) ...  // one upsert per (node, workload)
//
// Every string_view points into the batch's reports or their usage vectors (or into the plan's
// own blob storage): a plan is valid while its batch is unchanged and until the next Plan().
// `node` is the handle the state source gave (ingest_state_source.h). Rows of one table are in a
// fixed order (reports and evidence gaps in batch order). Thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "provenance/v1/report.pb.h"
#include "server/store/ingest_state_source.h"

namespace prov::server {

// A reports row. received_at_us is IngestPlan::received_us.
struct PlannedReport {
  int64_t node = 0;
  absl::string_view boot_id;
  uint64_t seq = 0;
  int64_t collected_us = 0;
  int64_t interval_seconds = 0;
  int64_t size_bytes = 0;
  int64_t accelerator_count = 0, sample_count = 0, workload_count = 0;
  double credited_seconds = 0;
};

// An evidence_gaps row: the report `seq` of (node, boot) was credited a span holding a gap.
struct PlannedEvidenceGap {
  int64_t node = 0;
  absl::string_view boot_id;
  uint64_t seq = 0;
  int64_t start_us = 0, end_us = 0;
  int64_t claimed_interval_seconds = 0;
  double gap_seconds = 0;
  double accelerator_seconds = 0;  // of the report's workloads, inside the gap
  double flop_high = 0;
};

// A node_streams upsert: the (node, boot)'s state after the batch (max'ed with the stored one).
struct PlannedStream {
  int64_t node = 0;
  absl::string_view boot_id;
  StreamState state;
};

// A nodes update: counts always; the descriptive columns follow the batch's newest report when it
// is at least as new as the stored row's (the engine compares with last_seen_us).
struct PlannedNode {
  int64_t node = 0;
  const provenance::v1::NodeReport* latest = nullptr;  // the batch's newest stored report
  int64_t latest_seen_us = 0;                          // its collected_at
  int64_t first_seen_us = 0;                           // the batch's oldest
  int64_t stored = 0;                                  // reports stored in the batch
  absl::string_view hostname, datacenter, region, agent_version, boot_id;
  uint64_t seq = 0;
  int64_t accelerator_count = 0, workload_count = 0;
  // The agent's health as the newest report says (only when it has one).
  bool has_health = false;
  int64_t spool_depth = 0, dropped_reports = 0, unreadable_reports = 0, rejected_reports = 0;
  int64_t collector_errors = 0;  // sum over the collectors of max(1, count)
  bool nvml_available = false;
  // Summed over the batch's stored reports.
  int64_t strings_repaired = 0, strings_truncated = 0;
  // The write caches could not confirm that the stored NodeIdentity.hardware / location
  // responder is `latest`'s: the engine compares with the stored row (and writes it when it
  // differs, updating IngestWriteCaches) before it updates the nodes row.
  bool check_hardware = false;
  bool check_location_responder = false;
};

// An accelerators upsert (changed, or its last_seen 60 s stale, or not in the write cache).
struct PlannedAccelerator {
  int64_t node = 0;
  absl::string_view pci_address;
  int64_t vendor_id = 0, device_id = 0;
  absl::string_view vendor, model;  // "unknown" when the report left them empty
  bool model_known = false;
  absl::string_view uuid, serial;
  absl::string_view accelerator;  // the serialized Accelerator
  int64_t seen_us = 0;
};

// A workloads upsert: the batch's ledger sums are added; the descriptive columns follow the
// newest report (the batch's newest, when newer than the stored row's last_seen_us).
struct PlannedWorkload {
  int64_t node = 0;
  absl::string_view workload_id;
  // Descriptive: from the batch's newest report of the workload.
  int64_t kind = 0;
  absl::string_view account;
  int64_t attribution_source = 0;
  int64_t workload_class = 0;
  double class_confidence = 0;
  absl::string_view launcher;
  int64_t accelerator_count = 0;
  absl::string_view accelerator_model;
  // Hash of the descriptive columns above: an engine may keep it to write only the ledger
  // columns while it stays the same (the SQLite Store does).
  size_t described = 0;
  // Ledger, summed over the batch's stored reports.
  int64_t first_seen_us = 0, last_seen_us = 0;
  double seconds = 0, flop_low = 0, flop_high = 0, gap_seconds = 0;
  std::string method;  // MergeMethods over the reports
};

// A workload_details upsert: the newest report's Workload proto, when it changed.
struct PlannedWorkloadDetails {
  int64_t node = 0;
  absl::string_view workload_id;
  int64_t seen_us = 0;
  absl::string_view workload;  // the serialized Workload
};

// An account_usage_hourly upsert: the batch's usage of `account` collected in the hour.
struct PlannedAccountHour {
  absl::string_view account;
  int64_t hour_us = 0;
  double seconds = 0, training = 0, inference = 0, flop_low = 0, flop_high = 0, gap_seconds = 0;
  std::string method;
};

struct IngestPlan {
  int64_t received_us = 0;  // provd's clock at commit
  std::vector<PlannedReport> reports;
  std::vector<PlannedEvidenceGap> evidence_gaps;
  std::vector<PlannedStream> streams;
  std::vector<PlannedNode> nodes;
  std::vector<PlannedAccelerator> accelerators;
  std::vector<PlannedWorkload> workloads;
  std::vector<PlannedWorkloadDetails> workload_details;
  std::vector<PlannedAccountHour> account_hours;

  // Empties the plan, keeping its memory for the next batch.
  void Clear() {
    received_us = 0;
    reports.clear();
    evidence_gaps.clear();
    streams.clear();
    nodes.clear();
    accelerators.clear();
    workloads.clear();
    workload_details.clear();
    account_hours.clear();
    blobs_used_ = 0;
  }
  // A string for serialized bytes that stays where it is until the next Clear() (reused: no
  // allocation once the plan has held as many blobs).
  std::string& NextBlob() {
    if (blobs_used_ == blobs_.size()) blobs_.emplace_back();
    return blobs_[blobs_used_++];
  }
  // Gives the string NextBlob() returned last back (its bytes are not planned after all).
  void DropLastBlob() { --blobs_used_; }

 private:
  std::deque<std::string> blobs_;  // a deque: growing it moves no string (views stay valid)
  size_t blobs_used_ = 0;
};

}  // namespace prov::server
