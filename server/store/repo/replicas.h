// ReplicaRegistry: which provd replicas share a PostgreSQL store, who leads, and how far the
// leader's analysis engine is behind ingest (issue 12: provctl status, via AuditService's
// GetServerStatus). PostgreSQL only (server/store/pg/pg_replicas.h); a SQLite store has one provd,
// which answers for itself.
//
//   PROV_ASSIGN_OR_RETURN(auto registry, backend->OpenReplicaRegistry());
//   PROV_ASSIGN_OR_RETURN(std::optional<ReplicaRow> replaced,
//                         registry->Heartbeat({.name = "provd-a", .address = "10.0.0.5:7443",
//                                              .version = "0.1.0", .started_us = start_us}));
//   // replaced: another process's row under this name (a restart's predecessor, or, when this
//   // replica had beaten before, a second live replica with the same --replica-name)
//   PROV_ASSIGN_OR_RETURN(ClusterView view, registry->Read(absl::Seconds(30)));
//
// Heartbeat upserts the replica's row with the database's clock (so replicas' clocks do not
// matter) and returns the row it overwrote when that row's started_us was not this replica's; Read
// lists the rows seen within `live_within` of the database's now, the leader row, and the ingest
// batch log's rows the saved analysis position has not passed. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prov::server {

struct ReplicaRow {
  std::string name;
  std::string address;
  std::string version;
  int64_t started_us = 0;
  int64_t seen_us = 0;  // set by the database at Heartbeat
};

struct LeaderRow {
  std::string holder;
  int64_t term = 0;
  int64_t since_us = 0;
};

// The ingest batch log past the saved analysis position: committed, not analysed yet.
struct AnalysisBacklog {
  int64_t batches = 0;
  int64_t reports = 0;
  int64_t oldest_received_us = 0;  // 0 when none
};

struct ClusterView {
  int64_t now_us = 0;  // the database's clock
  std::optional<LeaderRow> leader;
  std::vector<ReplicaRow> replicas;  // by name
  AnalysisBacklog backlog;
};

class ReplicaRegistry {
 public:
  virtual ~ReplicaRegistry() = default;
  // INVALID_ARGUMENT for an empty name.
  virtual absl::StatusOr<std::optional<ReplicaRow>> Heartbeat(const ReplicaRow& self) = 0;
  virtual absl::StatusOr<ClusterView> Read(absl::Duration live_within) = 0;
  // The leader's housekeeping: deletes the ingest batch log's rows below the saved analysis
  // position's horizon (read, and their facts saved), at most 10,000 per call (one transaction
  // each); returns how many. Nothing without a saved position.
  virtual absl::StatusOr<int64_t> PruneAnalysedBatches() = 0;
};

}  // namespace prov::server
