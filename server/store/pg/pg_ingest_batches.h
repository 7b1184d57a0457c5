// The ingest batch log on PostgreSQL: how reports committed by any replica reach the one replica
// that runs the analysis engine, each batch exactly once, and in each node's commit order
// (docs/design/scale-out.md section 3).
//
//   // Every replica, last statement of each ingest transaction (PgIngestOptions::batch_record):
//   PROV_RETURN_IF_ERROR(AppendIngestBatch(conn, received_us, stored, record_bytes));
//   // The leader:
//   PROV_ASSIGN_OR_RETURN(auto reader, PgIngestBatchReader::Open(conninfo));  // an
//   IngestBatchSource IngestPosition pos = ...;   // PgLoadIngestPosition, inside the facts'
//   transaction PROV_ASSIGN_OR_RETURN(IngestBatchRead read, reader->Read(pos, /*limit=*/1000)); for
//   (const IngestBatch& b : read.batches) engine.Submit(Decode(b.record));
//   // Save read.position with the facts those batches produced, in one fenced transaction:
//   changes.ingest_position = read.position;    // PgAnalysisFactsRepository::Save writes it
//
// Why not "every batch_id above N": sequence values are handed out before commit, so batch 11
// may commit before batch 10, and a reader that had passed 11 would never see 10. Why not "every
// xid below the horizon" alone: a transaction's xid is assigned at its first write, before it
// waits for node locks, so xid order is not each node's commit order.
//
// What holds instead. The row is the last statement of the ingest transaction, after it holds
// the row locks of all its nodes (FOR NO KEY UPDATE), so of two batches that share a node the
// second takes its batch_id only after the first committed: batch_id order is each node's
// commit order. A read takes one REPEATABLE READ snapshot and returns every committed row that
// the position has not seen, in batch_id order; a row that was not visible to one read commits
// after it, so it has a higher batch_id than every row of its nodes that read returned.
// The position is (horizon, seen): every row with xid < horizon has been returned, and `seen`
// lists the returned rows at or above it. After a read that returned everything it found, the
// horizon moves to the snapshot's xmin (every transaction below it has ended: no row can appear
// below it later) and `seen` keeps only the rows at or above it: those committed while an older
// transaction was still open. Any transaction holding an xid on the cluster holds the horizon
// (an idle one too: statement_timeout does not end it), and `seen` then grows with every batch
// read and is sent with every read; provd's sessions hold transactions briefly, but an operator's
// open psql transaction does this too. Not bounded here yet: the wiring must export len(seen)
// and the horizon's age as metrics (and may set idle_in_transaction_session_timeout).
// With `limit` reached, the horizon moves only up to the lowest xid among the unread rows.
//
// Rows below a saved position can be deleted (PgPruneIngestBatches). Thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/ingest_batches.h"
#include "server/store/repo/ingest_position.h"

namespace prov::server {

// Inside the ingest transaction, as its last statement (after the node locks).
absl::Status AppendIngestBatch(PgConn& conn, int64_t received_us, int64_t reports,
                               absl::string_view record);

class PgIngestBatchReader : public IngestBatchSource {
 public:
  // Connects (application_name provd/analysis-feed) and migrates.
  static absl::StatusOr<std::unique_ptr<PgIngestBatchReader>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));
  explicit PgIngestBatchReader(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}

  // The batches committed after `from`, at most `limit` (>= 1), in one snapshot. Safe to repeat
  // (reads only): a session found gone is replaced and the read run once more.
  absl::StatusOr<IngestBatchRead> Read(const IngestPosition& from, int limit) override;

 private:
  absl::StatusOr<IngestBatchRead> ReadOnce(const IngestPosition& from, int limit);
  std::unique_ptr<PgConn> conn_;
};

// Any replica: node events (IngestBatchAppender). A session found gone is reconnected before the
// next Append, never retried within one (an INSERT whose COMMIT answer was lost may have landed).
class PgIngestBatchAppender : public IngestBatchAppender {
 public:
  static absl::StatusOr<std::unique_ptr<PgIngestBatchAppender>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));
  explicit PgIngestBatchAppender(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  absl::Status Append(int64_t received_us, absl::string_view record) override;

 private:
  std::unique_ptr<PgConn> conn_;
};

// The saved position (the zero position when none was saved). Inside the caller's transaction.
absl::StatusOr<IngestPosition> PgLoadIngestPosition(PgConn& conn);
// The same, nullopt when none was saved (PgAnalysisFactsRepository::Load, with the facts).
absl::StatusOr<std::optional<IngestPosition>> PgLoadSavedIngestPosition(PgConn& conn);
// Saves it, inside the caller's transaction (PgAnalysisFactsRepository::Save: with the analysis
// facts it produced, after the leader's term check). updated_us is the server's clock.
absl::Status PgSaveIngestPosition(PgConn& conn, const IngestPosition& position);
// Deletes the batches below position.horizon (read, and their facts saved); returns how many.
// At most `limit` rows per call (a backlog of millions is pruned a chunk at a time, never in one
// statement that outlasts statement_timeout).
absl::StatusOr<int64_t> PgPruneIngestBatches(PgConn& conn, const IngestPosition& position,
                                             int64_t limit = 10000);

}  // namespace prov::server
