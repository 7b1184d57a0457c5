// IngestRepository: where the ingest writer (server/ingest/ingest_writer.h) commits validated
// reports and records rejections, on either engine: the SQLite `Store` (server/store/store.h),
// which provd uses, and PgIngestRepository (server/store/pg/pg_ingest.h); tests wrap the Store in a
// fault-injecting one (tests/server/ingest_writer_test.cc) to exercise the writer's failure path.
// Every decision of a commit (dedup, the seq-jump refusal, the credit, the aggregates, which
// unchanged rows to leave out) is the engine-free IngestPlanner's (server/store/ingest_planner.h):
// an implementation answers its IngestStateSource and writes its IngestPlan, so the engines cannot
// drift apart.
//
//   IngestRepository& repo = *store;                       // Store::Open(...)
//   std::vector<ReportToCommit> batch = ...;                // validated reports + ledger usage
//   PROV_ASSIGN_OR_RETURN(CommitResult r, repo.Commit(batch, clock.Now()));
//   r.high_water[{node_id, boot_id}];                       // highest committed seq: the acks
//
// The contract every implementation keeps (the writer's acks depend on it):
//  - Commit stores a whole batch in ONE transaction, or nothing of it. On error nothing of the
//    batch is stored and the status says why: RESOURCE_EXHAUSTED when the disk is full,
//    UNAVAILABLE when the engine is busy or gone (retry later), anything else is a bug or
//    corruption. The writer acks nothing of a failed batch.
//  - Deduplication is by the (node_id, boot_id) high-water mark: a report at or below its
//    stream's highest stored seq is not stored again (CommitResult::duplicate), so resends are
//    idempotent. A seq implausibly far ahead is refused (CommitResult::rejected), never stored.
//  - Each stored report's usage is rescaled in place to the time that elapsed (credit.h).
//  - RecordRejections adds to existing nodes' records only, in one transaction.
//
// Thread-compatibility: one thread (the ingest writer) uses a repository.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "provenance/v1/report.pb.h"
#include "server/ledger/usage.h"

namespace prov::server {

// One node's rejected reports since the last RecordRejections (report_queue.h's RejectionNote).
struct NodeRejections {
  std::string node_id;
  int64_t count = 0;
  absl::Time first_at;
  absl::Time last_at;
  std::string last_reason;
};

// A node's rejection record after RecordRejections: what the analysis engine judges a rejecting
// spell on (a node whose reports keep being refused while its stream stays open).
struct NodeRejectionState {
  std::string node_id;
  int64_t count = 0;             // rejected in this round (NodeRejections::count)
  int64_t reports_rejected = 0;  // all time
  absl::Time last_rejected;      // newest rejection (provd's clock)
  std::string last_rejection;    // its reason
  absl::Time rejecting_since;    // absl::InfinitePast(): not in a spell (a report was stored since)
};

struct ReportToCommit {
  const provenance::v1::NodeReport* report = nullptr;  // validated; not owned
  // ComputeUsage(*report, ...) for the claimed interval; its workload ids are used. Commit
  // replaces it with the credited usage (ApplyCredit) when the report is stored.
  std::vector<WorkloadUsage> usage;
  size_t size_bytes = 0;        // serialized size, for the reports row
  double credited_seconds = 0;  // set by Commit: the elapsed time credited (credit.h)
};

using StreamKey = std::pair<std::string, std::string>;  // (node_id, boot_id)
using StreamKeyView = std::pair<absl::string_view, absl::string_view>;
// Hash and equality for StreamKey maps that also look up by StreamKeyView (no string copies).
struct StreamKeyHash {
  using is_transparent = void;
  size_t operator()(const StreamKey& k) const { return (*this)(StreamKeyView(k.first, k.second)); }
  size_t operator()(const StreamKeyView& k) const { return absl::HashOf(k.first, k.second); }
};
struct StreamKeyEq {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return absl::string_view(a.first) == absl::string_view(b.first) &&
           absl::string_view(a.second) == absl::string_view(b.second);
  }
};

struct CommitResult {
  size_t stored = 0;
  size_t duplicates = 0;
  // Per input report, in order: true when it was not stored (a resent duplicate, or refused).
  std::vector<bool> duplicate;
  // (index in the batch, message naming the field) of reports refused: an implausible seq jump.
  std::vector<std::pair<size_t, std::string>> rejected;
  // Highest committed seq per (node_id, boot_id) in the batch, after the commit.
  absl::flat_hash_map<StreamKey, uint64_t, StreamKeyHash, StreamKeyEq> high_water;
  // The elapsed-time ledger (credit.h), over the stored reports.
  size_t evidence_gaps = 0;     // reports whose credited span held an evidence gap
  double gap_seconds = 0;       // node-seconds inside those gaps
  size_t clock_bound = 0;       // reports timestamped ahead of what provd's clock allowed
  size_t lag_floor = 0;         // reports trailing provd's clock by more than max_report_lag
  double credited_seconds = 0;  // node-seconds credited in all
  double claimed_seconds = 0;   // sum of interval_seconds claimed
};

class IngestRepository {
 public:
  virtual ~IngestRepository() = default;

  // `batch`'s usage is rescaled in place (see above); on error nothing is stored.
  virtual absl::StatusOr<CommitResult> Commit(std::vector<ReportToCommit>& batch,
                                              absl::Time received_at) = 0;
  // Adds rejected reports to their nodes' records (reports_rejected, last rejection, rejecting
  // spell) in one transaction; nodes without a record are skipped (no record is made up for a
  // node id seen only in rejected frames). Returns the updated records' state.
  virtual absl::StatusOr<std::vector<NodeRejectionState>> RecordRejections(
      absl::Span<const NodeRejections> nodes) = 0;
};

}  // namespace prov::server
