// IngestPlanner: the engine-free half of an ingest commit. Given a batch of validated reports and
// the stored state it asks for (IngestStateSource), it decides what is stored, what is a
// duplicate and what is refused, credits each stored report's usage in place for the time that
// elapsed (server/ledger/credit.h), and plans every row the batch writes (IngestPlan). An engine's
// IngestRepository (the SQLite Store, store.h) runs it inside its transaction and writes the plan,
// so every engine makes exactly the same decisions.
//
//   IngestPlanner planner({.credit = credit_options, .max_seq_jump = 1'000'000});
//   IngestPlan plan;                                  // reused across batches
//   // inside the engine's transaction:
//   PROV_ASSIGN_OR_RETURN(CommitResult result,
//                         planner.Plan(batch, received_at, state_source, write_caches, plan));
//   write plan.reports, plan.evidence_gaps, plan.streams, plan.nodes, ...;   // then COMMIT
//   // on any failure: roll back, forget the state source's cached state, write_caches.clear().
//
// Decisions, in the order the batch's reports come:
//  - Dedup by the (node, boot) high-water mark: agents send in seq order, so a seq at or below
//    the stream's highest stored seq is a duplicate (acked, not stored). A seq more than
//    max_seq_jump ahead is refused (CommitResult::rejected), neither stored nor acked.
//  - A stored report's usage (ComputeUsage's, for its claimed interval_seconds) is rescaled in
//    place to the span credited on provd's clock `received_at` (CreditReport / ApplyCredit); an
//    evidence gap is planned as an evidence_gaps row, and a workload continues through it when it
//    was seen since the boot's previous report (or, for a boot's first, the node's newest).
//  - Aggregates, each row once per batch: node_streams per (node, boot); nodes per node (counts,
//    descriptive columns from the newest report); workloads per (node, workload) with the summed
//    ledger and the descriptive columns of the newest report, whatever order the batch's reports
//    came in; account_usage_hourly per (account, hour of collected_at).
//  - The write caches (ingest_write_caches.h) suppress unchanged rows: accelerators are planned
//    when a fact changed or their last_seen is 60 s stale (compared by a hash of the serialized
//    bytes), workload_details when the Workload proto changed; a node's hardware and location
//    responder are flagged for the engine to check only when the cache does not hold them.
// The planner keeps no state of its own between batches except the sizes to reserve; what it
// advanced (the state source's StreamState / NodeCredit, the write caches) describes the
// committed database only if the engine commits.
//
// Per-report cost: no heap allocation in the steady state beyond what the result and the plan's
// merged method strings need; rows refer to the reports' strings by string_view.
// Thread-compatible: one thread (the ingest writer) uses a planner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "server/ledger/credit.h"
#include "server/store/ingest_plan.h"
#include "server/store/ingest_state_source.h"
#include "server/store/ingest_write_caches.h"
#include "server/store/repo/ingest.h"

namespace prov::server {

struct IngestPlannerOptions {
  CreditOptions credit;  // the elapsed-time ledger's bounds (server/ledger/credit.h)
  // A report whose seq is more than this far ahead of its (node, boot)'s highest stored seq is
  // refused (CommitResult::rejected), not stored and not acked (--max-seq-jump). The agent's spool
  // holds 8,640 reports by default but drops its oldest when full, so an agent that was cut off
  // for long legitimately jumps by what it dropped: 1,000,000 is ~115 days of 10-second reports,
  // and keeps a forged seq (2^63) from moving the mark past the node's genuine next reports.
  uint64_t max_seq_jump = 1'000'000;
};

class IngestPlanner {
 public:
  explicit IngestPlanner(const IngestPlannerOptions& options) : options_(options) {}

  // Plans `batch` into `plan` (cleared first) and returns what the commit will report. `batch`'s
  // usage and credited_seconds are set in place for the stored reports. An error comes from the
  // state source; the plan and everything advanced are then to be thrown away.
  absl::StatusOr<CommitResult> Plan(std::vector<ReportToCommit>& batch, absl::Time received_at,
                                    IngestStateSource& state, IngestWriteCaches& caches,
                                    IngestPlan& plan);

 private:
  struct Batch;  // per-batch aggregates (ingest_planner.cc)
  absl::Status AddReport(ReportToCommit& item, size_t index, IngestStateSource& state, Batch& batch,
                         CommitResult& result, IngestPlan& plan);
  // Credits item's usage for the elapsed time (credit.h) and plans an evidence gap.
  absl::Status CreditUsage(ReportToCommit& item, int64_t node, StreamState& stream,
                           IngestStateSource& state, Batch& batch, CommitResult& result,
                           IngestPlan& plan);
  // Whether (node, workload) was in a report collected at or after since_us.
  absl::StatusOr<bool> SeenSince(int64_t node, absl::string_view workload_id, int64_t since_us,
                                 IngestStateSource& state, const Batch& batch);
  // The batch's aggregates as rows, the write caches deciding which rows are unchanged.
  void PlanAggregates(Batch& batch, IngestWriteCaches& caches, IngestPlan& plan);

  const IngestPlannerOptions options_;
  int64_t batch_received_us_ = 0;
  // Sizes of the last batch's maps, to reserve the next batch's (no rehashing while adding).
  size_t last_workloads_ = 0;
  size_t last_accelerators_ = 0;
  size_t last_nodes_ = 0;
};

// Unix microseconds of a protobuf Timestamp, as stored in the *_us columns.
int64_t ToUnixMicros(const google::protobuf::Timestamp& ts);

}  // namespace prov::server
