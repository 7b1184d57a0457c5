// IngestBatchSource: the ingest batch log as the elected leader's analysis feed reads it
// (server/analysis/ingest_feed.h), engine-free. PgIngestBatchReader (pg/pg_ingest_batches.h)
// is the PostgreSQL one; SQLite has no batch log (one provd feeds its engine in process).
//
//   std::unique_ptr<IngestBatchSource> source = ...;   // PgIngestBatchReader::Open(conninfo)
//   PROV_ASSIGN_OR_RETURN(IngestBatchRead read, source->Read(position, /*limit=*/500));
//   for (const IngestBatch& b : read.batches) ... DecodeObservationBatch(b.record) ...
//   position = read.position;              // after these batches; saved with their facts
//
// IngestBatchAppender: a row that is not an ingest commit's (the node events of one replica's
// rejection or refusal round, server/analysis/node_event_log.h), appended in its own transaction.
//
//   PROV_RETURN_IF_ERROR(appender->Append(now_us, EncodeNodeEvents(events)));
//
// A Read returns the batches committed after `from` that it has not returned before, at most
// `limit` (>= 1), in batch_id order (each node's commit order), and the position after them.
// Reads only: safe to repeat. Thread-compatible (one reader thread).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/store/repo/ingest_position.h"

namespace prov::server {

struct IngestBatch {
  int64_t batch_id = 0;
  uint64_t xid = 0;
  int64_t received_us = 0;
  int64_t reports = 0;
  std::string record;  // what the writer's batch_record made of the batch
};

struct IngestBatchRead {
  std::vector<IngestBatch> batches;  // in batch_id order
  IngestPosition position;           // after these batches
  bool caught_up = false;            // fewer than `limit`: nothing committed is left unread
};

class IngestBatchSource {
 public:
  virtual ~IngestBatchSource() = default;
  // INVALID_ARGUMENT when limit < 1; UNAVAILABLE (or the engine's error) when the read failed.
  virtual absl::StatusOr<IngestBatchRead> Read(const IngestPosition& from, int limit) = 0;
};

class IngestBatchAppender {
 public:
  virtual ~IngestBatchAppender() = default;
  // One row holding `record` (no reports), committed when this returns OK. Not retried here: a
  // commit whose answer was lost may have committed (the caller retries and may append twice).
  virtual absl::Status Append(int64_t received_us, absl::string_view record) = 0;
};

}  // namespace prov::server
