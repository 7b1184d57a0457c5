// PgReplicaRegistry: ReplicaRegistry (repo/replicas.h) on PostgreSQL: table `replicas` (schema
// version 9), the `leader` row (pg_leader_election.h) and the ingest batch log against the saved
// `analysis_position` (pg_ingest_batches.h).
//
//   PROV_ASSIGN_OR_RETURN(auto registry, PgReplicaRegistry::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(auto replaced, registry->Heartbeat(self));   // every 2 s (sync thread)
//
// One session (provd/replicas), one call at a time (a mutex); reads and the heartbeat's upsert
// are safe to repeat, so a lost session is replaced and the call run once more
// (RunWithReconnect).
#pragma once

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/replicas.h"

namespace prov::server {

class PgReplicaRegistry final : public ReplicaRegistry {
 public:
  // Connects and migrates.
  static absl::StatusOr<std::unique_ptr<PgReplicaRegistry>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));
  explicit PgReplicaRegistry(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}

  absl::StatusOr<std::optional<ReplicaRow>> Heartbeat(const ReplicaRow& self) override;
  absl::StatusOr<ClusterView> Read(absl::Duration live_within) override;
  absl::StatusOr<int64_t> PruneAnalysedBatches() override;

 private:
  static absl::StatusOr<ClusterView> ReadOnce(PgConn& conn, absl::Duration live_within);
  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
