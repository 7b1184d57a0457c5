// Store: provd's SQLite database, writer side. One connection, used by the ingest writer thread.
//
//   PROV_ASSIGN_OR_RETURN(auto store, Store::Open(data_dir + "/provd.db"));
//   std::vector<ReportToCommit> batch = ...;            // validated reports + their ledger usage
//   PROV_ASSIGN_OR_RETURN(CommitResult result, store->Commit(batch, clock.Now()));
//   result.high_water[{node_id, boot_id}];              // highest committed seq, for the acks
//   batch[i].usage;                                     // now credited for the elapsed time
//
// Open() sets WAL, synchronous=NORMAL (a committed batch survives a process crash such as SIGKILL;
// the last batches before a power loss may be lost, and the agents resend them), the WAL checkpoint
// length every writer of the file shares (connection.h: ConfigureWriter), busy_timeout, and
// creates or migrates the schema (SCHEMA.md). Commit() writes a whole batch in ONE transaction:
// inside it, the engine-free IngestPlanner (ingest_planner.h) decides what is stored, duplicate or
// refused, credits each stored report's usage in place for the time that elapsed (credit.h), and
// plans the rows (IngestPlan); the Store answers the planner's questions (IngestStateSource:
// node ids, (node, boot) high-water marks and credit state, node horizons, "seen since") from its
// caches, reading the database on a miss, and then writes the planned rows: reports,
// evidence_gaps, node_streams, node_hardware (node_hardware.h) and location_responders
// (location_store.h) when the planner could not rule out a change, nodes, accelerators,
// workloads, workload_details, account_usage_hourly. A workloads row whose descriptive columns
// (kind, account, class, launcher, model, ...) are unchanged (workload_rows_ below) gets only its
// ledger columns added to (its account index entry is not rewritten). The writer connection keeps
// a 32 MiB page cache. On any error the transaction is rolled back, the caches (the state
// source's and the write caches, ingest_write_caches.h) are dropped, and nothing of the batch is
// stored. The caches are bounded: all are dropped when together they pass 2,000,000 entries.
//
// Thread-safety: not thread-safe; one thread (the ingest writer) owns it. Queries go through
// StoreReader (store_reader.h), which opens its own read-only connections.
#pragma once

#include <cstdint>
#include <memory>
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
#include "server/ledger/credit.h"
#include "server/ledger/usage.h"
#include "server/store/ingest_plan.h"
#include "server/store/ingest_planner.h"
#include "server/store/ingest_state_source.h"
#include "server/store/ingest_write_caches.h"
#include "server/store/location_store.h"
#include "server/store/node_hardware.h"
#include "server/store/repo/ingest.h"
#include "server/store/sqlite.h"

namespace prov::server {

struct StoreOptions {
  absl::Duration busy_timeout = absl::Seconds(5);
  CreditOptions credit;  // the elapsed-time ledger's bounds (server/ledger/credit.h)
  // Refuse a seq more than this far ahead of its (node, boot)'s highest stored seq
  // (--max-seq-jump; IngestPlannerOptions::max_seq_jump says why 1,000,000).
  uint64_t max_seq_jump = IngestPlannerOptions().max_seq_jump;
};

class Store final : public IngestRepository, private IngestStateSource {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                                     const StoreOptions& options = {});

  // IngestRepository (repo/ingest.h). `batch`'s usage is rescaled in place (see above); on
  // error nothing is stored.
  absl::StatusOr<CommitResult> Commit(std::vector<ReportToCommit>& batch,
                                      absl::Time received_at) override;
  absl::StatusOr<CommitResult> Commit(std::vector<ReportToCommit>&& batch, absl::Time received_at) {
    return Commit(batch, received_at);
  }
  // Adds rejected reports to their nodes' rows (reports_rejected, last_rejected_us,
  // last_rejection, rejecting_since_us) in one transaction; nodes without a row are skipped (no
  // row is made up for a node id seen only in rejected frames). Returns the updated rows' state.
  absl::StatusOr<std::vector<NodeRejectionState>> RecordRejections(
      absl::Span<const NodeRejections> nodes) override;

  const std::string& path() const { return path_; }

 private:
  Store(std::string path, std::unique_ptr<SqliteDb> db, const IngestPlannerOptions& options)
      : path_(std::move(path)), db_(std::move(db)), planner_(options) {}
  struct WorkloadRow {
    size_t hash = 0;
    int64_t seen_us = 0;
    int64_t rowid = 0;
  };

  // IngestStateSource (ingest_state_source.h): from the caches below, the database on a miss.
  absl::StatusOr<int64_t> Node(absl::string_view node_id, int64_t seen_us) override;
  absl::StatusOr<StreamState*> Stream(int64_t node, absl::string_view boot_id) override;
  absl::StatusOr<NodeCredit*> Horizon(int64_t node) override;
  absl::StatusOr<int64_t> NodeLastSeen(int64_t node) override;
  absl::StatusOr<bool> WorkloadSeenSince(int64_t node, absl::string_view workload_id,
                                         int64_t since_us) override;

  // Writes plan_ (inside the open transaction).
  absl::Status WritePlan(Statement& insert_report);
  absl::Status WriteAggregates();
  absl::Status WriteWorkloadRow(const PlannedWorkload& w);
  void DropCaches();

  std::string path_;
  std::unique_ptr<SqliteDb> db_;
  IngestPlanner planner_;
  IngestPlan plan_;  // the current batch's rows; kept for its memory
  // Caches of what the database holds; valid because this is the only writer. All are dropped
  // when a transaction fails, and bounded by dropping them when they grow past kMaxCached.
  absl::flat_hash_map<std::string, int64_t> node_ids_;     // node_id -> nodes.id
  RowMap<StreamState> high_water_;                         // (node, boot) -> max_seq, credit
  absl::flat_hash_map<int64_t, NodeCredit> node_horizon_;  // node -> its boots' credit
  IngestWriteCaches write_caches_;  // accelerators, workload_details, hardware, responders
  // (node, workload id) -> hash of the workloads row's descriptive columns (kind, account, ...),
  // its last_seen_us and rowid: while they stay the same, a batch only adds to the ledger columns.
  RowMap<WorkloadRow> workload_rows_;
};

// ToUnixMicros(const google::protobuf::Timestamp&) is declared in ingest_planner.h.

}  // namespace prov::server
