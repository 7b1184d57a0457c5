// IngestPosition: how far the elected leader's analysis engine has read the PostgreSQL ingest
// batch log (server/store/pg/pg_ingest_batches.h says what the two parts mean and why). Saved
// with the analysis facts those batches produced, in one transaction
// (AnalysisFactsChanges::ingest_position, repo/analysis_facts.h).
//
//   IngestPosition pos = read.position;        // PgIngestBatchReader::Read
//   changes.ingest_position = pos;             // saved with the facts, fenced by term
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace prov::server {

struct IngestPosition {
  uint64_t horizon = 0;  // every batch with xid < horizon has been read
  // Batches read at or above the horizon: (batch_id, xid), ascending by batch_id.
  std::vector<std::pair<int64_t, uint64_t>> seen;
  bool operator==(const IngestPosition&) const = default;
};

}  // namespace prov::server
