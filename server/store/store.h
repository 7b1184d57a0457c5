// Store: provd's SQLite database, writer side. One connection, used by the ingest writer thread.
//
//   PROV_ASSIGN_OR_RETURN(auto store, Store::Open(data_dir + "/provd.db"));
//   std::vector<ReportToCommit> batch = ...;            // validated reports + their ledger usage
//   PROV_ASSIGN_OR_RETURN(CommitResult result, store->Commit(batch, clock.Now()));
//   result.high_water[{node_id, boot_id}];              // highest committed seq, for the acks
//   batch[i].usage;                                     // now credited for the elapsed time
//
// Open() sets WAL, synchronous=NORMAL (a committed batch survives a process crash such as SIGKILL;
// the last batches before a power loss may be lost, and the agents resend them), busy_timeout, and
// creates or migrates the schema (SCHEMA.md). Commit() writes a whole batch in ONE transaction:
// dedup by the (node, boot) high-water mark, one reports row per stored report, and then the
// batch's aggregates. Before a stored report's ledger is added, its usage (computed for its claimed
// interval_seconds) is rescaled in place to the time that actually elapsed since the previous
// report of its (node, boot), by provd's clock `received_at` and the report's timestamp
// (server/ledger/credit.h); an evidence gap is stored in evidence_gaps. Then the
// batch's aggregates: one nodes/node_streams row per node, one workloads row per (node, workload)
// with the summed ledger, one account_usage_hourly row per (account, hour). Large or rarely
// changing rows are written only when they change (write caches below): node_hardware when a
// node's SMBIOS identity changes (node_hardware.h), location_responders when its
// NodeIdentity.location_responder changes (location_store.h), workload_details when
// the Workload proto changes, accelerators when a fact changes or their last_seen is 60 s stale
// (compared by a hash of their serialized bytes, once per row and batch), and a workloads row whose
// descriptive columns (kind, account, class, launcher, model, ...) are unchanged gets only its
// ledger columns added to (its account index entry is not rewritten). The writer connection keeps a
// 32 MiB page cache. On any error the transaction is rolled back, the caches are dropped, and
// nothing of the batch is stored.
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
#include "server/store/location_store.h"
#include "server/store/node_hardware.h"
#include "server/store/repo/ingest.h"
#include "server/store/sqlite.h"

namespace prov::server {

struct StoreOptions {
  absl::Duration busy_timeout = absl::Seconds(5);
  CreditOptions credit;  // the elapsed-time ledger's bounds (server/ledger/credit.h)
  // A report whose seq is more than this far ahead of its (node, boot)'s highest stored seq is
  // refused (CommitResult::rejected), not stored and not acked (--max-seq-jump). The agent's spool
  // holds 8,640 reports by default but drops its oldest when full, so an agent that was cut off
  // for long legitimately jumps by what it dropped: 1,000,000 is ~115 days of 10-second reports,
  // and keeps a forged seq (2^63) from moving the mark past the node's genuine next reports.
  uint64_t max_seq_jump = 1'000'000;
};

class Store final : public IngestRepository {
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
  Store(std::string path, std::unique_ptr<SqliteDb> db, CreditOptions credit)
      : path_(std::move(path)), db_(std::move(db)), credit_options_(credit) {}
  struct Batch;                                    // per-batch aggregates (store.cc)
  using RowKey = std::pair<int64_t, std::string>;  // (nodes.id, pci address / boot / workload id)
  using RowKeyView = std::pair<int64_t, absl::string_view>;
  // Hash and equality for RowKey maps that also look up by RowKeyView (no string copy).
  struct RowKeyHash {
    using is_transparent = void;
    size_t operator()(const RowKey& k) const { return (*this)(RowKeyView(k.first, k.second)); }
    size_t operator()(const RowKeyView& k) const { return absl::HashOf(k.first, k.second); }
  };
  struct RowKeyEq {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return a.first == b.first && absl::string_view(a.second) == absl::string_view(b.second);
    }
  };
  template <typename V>
  using RowMap = absl::flat_hash_map<RowKey, V, RowKeyHash, RowKeyEq>;
  struct CachedRow {
    size_t hash = 0;
    int64_t seen_us = 0;
  };
  struct WorkloadRow {
    size_t hash = 0;
    int64_t seen_us = 0;
    int64_t rowid = 0;
  };

  // Per (node, boot): the dedup high-water mark and the ledger's credit state.
  struct StreamState {
    uint64_t max_seq = 0;
    StreamCredit credit;
  };
  absl::Status AddReport(ReportToCommit& item, Batch& batch, CommitResult& result, size_t index);
  // Credits item's usage for the elapsed time (credit.h) and records an evidence gap.
  absl::Status CreditUsage(ReportToCommit& item, int64_t node, StreamState& stream, Batch& batch,
                           CommitResult& result);
  // Whether (node, workload) was in a report collected at or after since_us.
  absl::StatusOr<bool> SeenSince(int64_t node, absl::string_view workload_id, int64_t since_us,
                                 const Batch& batch);
  // Per node: the furthest any boot was credited, and where its newest boot started.
  struct NodeCredit {
    int64_t horizon_us = 0;
    int64_t newest_boot_us = 0;
  };
  absl::StatusOr<NodeCredit*> NodeHorizon(int64_t node);
  absl::Status WriteAggregates(Batch& batch);
  struct BatchWorkload;  // Batch::Workload
  absl::Status WriteWorkloadRow(const RowKeyView& key, const BatchWorkload& w);
  absl::StatusOr<int64_t> NodeRowId(const std::string& node_id, int64_t seen_us);
  // The cached (node, boot) high-water mark, read from the database on a miss. The pointer is
  // valid until the next insertion into high_water_.
  absl::StatusOr<StreamState*> HighWater(int64_t node, const std::string& boot_id);
  void DropCaches();

  std::string path_;
  std::unique_ptr<SqliteDb> db_;
  const CreditOptions credit_options_;
  uint64_t max_seq_jump_ = StoreOptions().max_seq_jump;
  int64_t batch_received_us_ = 0;
  // Sizes of the last batch's maps, to reserve the next batch's (no rehashing while adding).
  size_t last_workloads_ = 0;
  size_t last_accelerators_ = 0;
  size_t last_nodes_ = 0;
  // Caches of what the database holds; valid because this is the only writer. All are dropped
  // when a transaction fails, and bounded by dropping them when they grow past kMaxCached.
  absl::flat_hash_map<std::string, int64_t> node_ids_;     // node_id -> nodes.id
  RowMap<StreamState> high_water_;                         // (node, boot) -> max_seq, credit
  absl::flat_hash_map<int64_t, NodeCredit> node_horizon_;  // node -> its boots' credit
  RowMap<CachedRow> accelerators_;                         // (node, pci) -> written facts
  RowMap<CachedRow> workload_details_;                     // (node, workload id) -> written
  // (node, workload id) -> hash of the workloads row's descriptive columns (kind, account, ...),
  // its last_seen_us and rowid: while they stay the same, a batch only adds to the ledger columns.
  RowMap<WorkloadRow> workload_rows_;
  NodeHardwareCache node_hardware_;  // node -> key of its stored SMBIOS identity (node_hardware.h)
  LocationResponderCache location_responders_;  // node -> its stored location responder
};

// Unix microseconds of a protobuf Timestamp / absl::Time, as stored in the *_us columns.
int64_t ToUnixMicros(const google::protobuf::Timestamp& ts);

}  // namespace prov::server
