// PgIngestRepository: the ingest writer's IngestRepository (repo/ingest.h) on PostgreSQL, for
// provd replicas sharing one database. It makes exactly the SQLite Store's decisions (the shared
// IngestPlanner answers dedup, refusal, credit and rows) and writes the same rows (PostgreSQL
// version 5 tables, pg_schema.cc; store_ingest_conformance_test compares them table by table).
//
//   PROV_ASSIGN_OR_RETURN(auto repo, PgIngestRepository::Open(url.pg_conninfo));
//   std::vector<ReportToCommit> batch = ...;          // validated reports + their ledger usage
//   PROV_ASSIGN_OR_RETURN(CommitResult r, repo->Commit(batch, clock.Now()));
//   r.high_water[{node_id, boot_id}];                 // highest committed seq: the acks
//
// One READ COMMITTED transaction per batch, in round trips independent of the batch's size (but
// for the rare per-node hardware / responder checks and evidence gaps' "seen since" reads):
//  1. The batch's nodes are created if new (`INSERT ... ON CONFLICT (node_id) DO NOTHING`, with
//     the first_seen_us the planner would give them: the collected_at of the node's first report
//     in the batch) and then locked, `SELECT ... FOR NO KEY UPDATE`, both in node_id order: two
//     replicas committing the same nodes (an agent that failed over mid-stream) serialise on the
//     node rows instead of deadlocking, and a node created by both at once is created once.
//  2. Under those locks, each statement's snapshot sees every commit before it: the batch's
//     streams (node_streams: high-water mark and credit state), the nodes' horizons (max over
//     their boots) and last_seen_us are read in three statements, and the planner runs on them
//     (IngestStateSource, answered from these per-batch maps). So each seq is stored exactly
//     once across replicas, and CommitResult::high_water is what is stored.
//  3. The IngestPlan is written with one multi-row statement per table (arrays sent as one
//     parameter each and expanded with unnest, pg_array.h): reports and evidence_gaps
//     (plain INSERTs: a (node, boot, seq) already there is a bug, ALREADY_EXISTS, never skipped
//     silently; reports' unique key holds its partition key collected_at_us too, which a resend
//     repeats, pg_partitions.h), node_streams, nodes, accelerators, workloads, workload_details
//     (upserts with the SQLite statements' rules), account_usage_hourly (upserts, in (account,
//     hour) order: those rows are shared across nodes, so replicas lock them in one order); the
//     node hardware and location responder rows the planner flags are compared and written per node
//     (pg_ingest_node_rows.h).
// A workloads row whose descriptive columns this repository wrote with the same values (a hash
// kept per row, with its id, as the SQLite Store's workload_rows_) gets only its ledger columns
// added to, by id; a row not found so is written whole by the upsert.
// The write caches (ingest_write_caches.h) and that workloads cache live across batches as in the
// SQLite Store, and are dropped when a transaction fails, when they pass 2,000,000 entries, and
// when another writer (a second replica) stored reports of one of the batch's nodes since this
// repository last did: the repository remembers each node's reports_stored after its own commit and
// compares it with the locked row's. Stream states and horizons are never cached across batches.
//
// Day partitions (pg_partitions.h): before the first batch and the first batch of each new day
// of received_at, EnsurePgDayPartitions runs in its own transactions; its failure never fails the
// batch (rows of a day without a partition go to the DEFAULT partition; partitions_status()).
// Errors (pg_status.h): on any error the transaction is rolled back, nothing of the batch is
// stored, and the caches are dropped. A lost session is UNAVAILABLE; the next Commit or
// RecordRejections reconnects first (server/store/README.md's rule); a batch is run once more on
// a new session only when its BEGIN found the session gone (nothing was sent). Disk full is
// RESOURCE_EXHAUSTED; lock waits are bounded by lock_timeout (UNAVAILABLE). A text field holding a
// NUL byte (PostgreSQL text cannot) fails the batch INVALID_ARGUMENT.
//
// Thread-compatibility: one thread (the ingest writer) uses a repository; each has its own
// session. Several repositories (replicas) may commit the same streams at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/store/ingest_plan.h"
#include "server/store/ingest_planner.h"
#include "server/store/ingest_state_source.h"
#include "server/store/ingest_write_caches.h"
#include "server/store/pg/pg_array.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_partitions.h"
#include "server/store/repo/ingest.h"

namespace prov::server {

struct PgIngestOptions {
  absl::Duration connect_timeout = absl::Seconds(10);
  std::string application_name = "provd/ingest";
  IngestPlannerOptions planner{};  // credit bounds and --max-seq-jump, as StoreOptions
  // What the leader's analysis engine needs of a committed batch (the observations of its stored
  // reports, after Commit credited their usage), appended to the ingest batch log as the
  // transaction's last statement (pg_ingest_batches.h) when the batch stored any report. No
  // NOTIFY: PostgreSQL serialises every committing transaction that notified on one database-wide
  // lock held through its commit (and a full notification queue would fail the commit), so the
  // leader's feed polls instead (IngestFeedOptions::poll, 250 ms). Unset: no log row (a provd
  // whose engine is fed in process).
  std::function<std::string(const std::vector<ReportToCommit>& batch, const CommitResult& result)>
      batch_record = nullptr;
  // Tests: runs inside each Commit's transaction after the plan is written, before COMMIT.
  std::function<void()> before_commit = nullptr;
  // The day partitions made ahead (pg_partitions.h): at the first Commit and at the first
  // Commit of each new day of received_at, in their own transactions before the batch's.
  PgEnsureOptions partitions{};
  // Told after each of those attempts (and each retry a minute after a failure), on the
  // committing thread: provd's metrics and log (prov_pg_day_partition*).
  std::function<void(const PgPartitionsReport&)> on_partitions = nullptr;
};

class PgIngestRepository final : public IngestRepository, private IngestStateSource {
 public:
  // Connects and migrates the schema (under the migration lock, pg_schema.h).
  static absl::StatusOr<std::unique_ptr<PgIngestRepository>> Open(
      const std::string& conninfo, const PgIngestOptions& options = {});

  absl::StatusOr<CommitResult> Commit(std::vector<ReportToCommit>& batch,
                                      absl::Time received_at) override;
  absl::StatusOr<CommitResult> Commit(std::vector<ReportToCommit>&& batch, absl::Time received_at) {
    return Commit(batch, received_at);
  }
  // As the SQLite Store's: the nodes are locked in node_id order first, then updated in order.
  absl::StatusOr<std::vector<NodeRejectionState>> RecordRejections(
      absl::Span<const NodeRejections> nodes) override;
  // The last attempt to create the day partitions ahead (OK before any). A failure never fails
  // a batch (its rows go to the DEFAULT partitions); it is tried again a minute later.
  const absl::Status& partitions_status() const { return partitions_status_; }

 private:
  PgIngestRepository(std::unique_ptr<PgConn> conn, PgIngestOptions options)
      : conn_(std::move(conn)), options_(std::move(options)), planner_(options_.planner) {}

  // IngestStateSource: from the per-batch maps LockAndRead filled.
  absl::StatusOr<int64_t> Node(absl::string_view node_id, int64_t seen_us) override;
  absl::StatusOr<StreamState*> Stream(int64_t node, absl::string_view boot_id) override;
  absl::StatusOr<NodeCredit*> Horizon(int64_t node) override;
  absl::StatusOr<int64_t> NodeLastSeen(int64_t node) override;
  absl::StatusOr<bool> WorkloadSeenSince(int64_t node, absl::string_view workload_id,
                                         int64_t since_us) override;

  // Reconnects if needed, runs `body` in a READ COMMITTED transaction; once more on a new
  // session when BEGIN found the session gone (nothing of the body was sent).
  absl::Status InTransaction(absl::FunctionRef<absl::Status()> body);
  // Steps 1 and 2 above: creates and locks the batch's nodes, reads their state.
  absl::Status LockAndRead(const std::vector<ReportToCommit>& batch);
  absl::Status WritePlan();
  absl::Status WriteReports();
  absl::Status WriteStreamsAndNodes();
  absl::Status WriteAccelerators();
  absl::Status WriteWorkloads();
  absl::Status WriteAccountHours();
  void DropCaches();
  void EnsurePartitions(absl::Time now);

  std::unique_ptr<PgConn> conn_;
  const PgIngestOptions options_;
  IngestPlanner planner_;
  IngestPlan plan_;  // the current batch's rows; kept for its memory

  // Per batch (cleared at each Commit): what the locked rows hold.
  struct NodeRow {
    int64_t id = 0;
    int64_t last_seen_us = 0;
    int64_t reports_stored = 0;
  };
  absl::flat_hash_map<std::string, int64_t> node_ids_;  // node_id -> nodes.id, locked
  absl::flat_hash_map<int64_t, NodeRow> node_rows_;     // nodes.id -> the row before the batch
  RowMap<StreamState> streams_;                         // (node, boot) -> stored state
  absl::flat_hash_map<int64_t, NodeCredit> horizons_;   // node -> its boots' credit

  // Across batches: valid while every write they describe was committed and no other writer
  // stored reports of the node since (written_stored_).
  IngestWriteCaches write_caches_;
  absl::flat_hash_map<int64_t, int64_t> written_stored_;  // node -> reports_stored we left
  // (node, workload id) -> hash of the workloads row's descriptive columns and its id: while the
  // batch's hash is the same, only the ledger columns are updated, by id (as the SQLite Store).
  struct WorkloadRow {
    size_t hash = 0;
    int64_t id = 0;
  };
  RowMap<WorkloadRow> workload_rows_;
  std::vector<const PlannedWorkload*> full_workloads_;  // per batch: upserted whole

  PgArray a_[21];  // reused array builders (the widest statement, nodes, has 21 columns)

  int64_t partitions_day_ = INT64_MIN;  // the day whose partitions were last made ahead
  absl::Time partitions_retry_ = absl::InfinitePast();
  absl::Status partitions_status_;
};

}  // namespace prov::server
