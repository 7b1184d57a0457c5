#include "server/store/pg/pg_replicas.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_ingest_batches.h"
#include "server/store/pg/pg_result.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {

constexpr char kNowUs[] = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint";

absl::StatusOr<std::unique_ptr<PgReplicaRegistry>> PgReplicaRegistry::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/replicas",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::make_unique<PgReplicaRegistry>(std::move(conn));
}

absl::StatusOr<std::optional<ReplicaRow>> PgReplicaRegistry::Heartbeat(const ReplicaRow& self) {
  if (self.name.empty()) return absl::InvalidArgumentError("replica heartbeat: empty name");
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;  // under mu_ (the lambda below cannot say so to -Wthread-safety)
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::optional<ReplicaRow>> {
    // `old` reads the row as it was before the upsert (one snapshot for the whole statement).
    PROV_ASSIGN_OR_RETURN(
        PgResult old,
        conn.Query(
            absl::StrCat("WITH old AS (SELECT address, version, started_us, seen_us FROM replicas "
                         "WHERE name = $1), up AS (INSERT INTO replicas (name, address, version, "
                         "started_us, seen_us) VALUES ($1, $2, $3, $4, ",
                         kNowUs,
                         ") ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address, "
                         "version = EXCLUDED.version, started_us = EXCLUDED.started_us, "
                         "seen_us = EXCLUDED.seen_us RETURNING 1) "
                         "SELECT address, version, started_us, seen_us FROM old"),
            {self.name, self.address, self.version, self.started_us}));
    if (old.rows() == 0) return std::optional<ReplicaRow>();
    ReplicaRow row;
    row.name = self.name;
    row.address = old.Text(0, 0);
    row.version = old.Text(0, 1);
    PROV_ASSIGN_OR_RETURN(row.started_us, old.Int64(0, 2));
    PROV_ASSIGN_OR_RETURN(row.seen_us, old.Int64(0, 3));
    if (row.started_us == self.started_us) return std::optional<ReplicaRow>();
    return std::optional<ReplicaRow>(std::move(row));
  });
}

absl::StatusOr<ClusterView> PgReplicaRegistry::Read(absl::Duration live_within) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;  // under mu_
  return RunWithReconnect(conn, [&] { return ReadOnce(conn, live_within); });
}

absl::StatusOr<int64_t> PgReplicaRegistry::PruneAnalysedBatches() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;  // under mu_
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<int64_t> {
    int64_t pruned = 0;
    PROV_RETURN_IF_ERROR(conn.Transaction([&]() -> absl::Status {
      PROV_ASSIGN_OR_RETURN(IngestPosition position, PgLoadIngestPosition(conn));
      if (position.horizon == 0) return absl::OkStatus();
      PROV_ASSIGN_OR_RETURN(pruned, PgPruneIngestBatches(conn, position));
      return absl::OkStatus();
    }));
    return pruned;
  });
}

absl::StatusOr<ClusterView> PgReplicaRegistry::ReadOnce(PgConn& conn, absl::Duration live_within) {
  ClusterView view;
  PROV_RETURN_IF_ERROR(conn.Transaction(
      [&]() -> absl::Status {
        PROV_ASSIGN_OR_RETURN(PgResult now, conn.Query(absl::StrCat("SELECT ", kNowUs)));
        PROV_ASSIGN_OR_RETURN(view.now_us, now.Int64(0, 0));
        PROV_ASSIGN_OR_RETURN(PgResult leader,
                              conn.Query("SELECT holder, term, since_us FROM leader"));
        if (leader.rows() > 0) {
          LeaderRow row;
          row.holder = leader.Text(0, 0);
          PROV_ASSIGN_OR_RETURN(row.term, leader.Int64(0, 1));
          PROV_ASSIGN_OR_RETURN(row.since_us, leader.Int64(0, 2));
          view.leader = std::move(row);
        }
        PROV_ASSIGN_OR_RETURN(
            PgResult replicas,
            conn.Query("SELECT name, address, version, started_us, seen_us FROM replicas "
                       "WHERE seen_us >= $1 ORDER BY name",
                       {view.now_us - absl::ToInt64Microseconds(live_within)}));
        for (int i = 0; i < replicas.rows(); ++i) {
          ReplicaRow row;
          row.name = replicas.Text(i, 0);
          row.address = replicas.Text(i, 1);
          row.version = replicas.Text(i, 2);
          PROV_ASSIGN_OR_RETURN(row.started_us, replicas.Int64(i, 3));
          PROV_ASSIGN_OR_RETURN(row.seen_us, replicas.Int64(i, 4));
          view.replicas.push_back(std::move(row));
        }
        // The rows the saved position has not read: at or above its horizon and not among the
        // ones it lists as read (the batch log's own rule, pg_ingest_batches.h).
        PROV_ASSIGN_OR_RETURN(
            PgResult backlog,
            conn.Query(
                "SELECT count(*), coalesce(sum(b.reports), 0), coalesce(min(b.received_us), 0) "
                "FROM ingest_batches b LEFT JOIN analysis_position p ON p.id = 1 WHERE "
                "(p.id IS NULL OR (b.xid >= p.horizon AND NOT (b.batch_id = ANY(p.seen_ids))))"));
        PROV_ASSIGN_OR_RETURN(view.backlog.batches, backlog.Int64(0, 0));
        PROV_ASSIGN_OR_RETURN(view.backlog.reports, backlog.Int64(0, 1));
        PROV_ASSIGN_OR_RETURN(view.backlog.oldest_received_us, backlog.Int64(0, 2));
        return absl::OkStatus();
      },
      "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
  return view;
}

}  // namespace prov::server
