// PgFleetReader: the fleet queries (repo/fleet_reader.h) over PostgreSQL's ingest tables (version
// 5) and the analysis engine's flags (version 7), the PostgreSQL counterpart of StoreReader.
//
//   PROV_ASSIGN_OR_RETURN(auto reader, PgFleetReader::Open(url.pg_conninfo, /*connections=*/4));
//   PROV_ASSIGN_OR_RETURN(auto nodes, reader->ListNodes({.datacenter = "fra1"}));
//
// A small fixed pool: Open connects `connections` sessions up front (application_name
// provd/fleet, search_path provd; the first one migrates the schema) and each call borrows one,
// waiting while all are busy; the constructor takes sessions already open. Reads only: every
// call reconnects a dropped or read-only session first and runs once more on a new session when
// its session was lost during the call (server/store/README.md). FleetOverview and
// GetAccountUsageSeries read in one REPEATABLE READ READ ONLY transaction (one snapshot, as
// SQLite's read transaction), the other calls are single statements or, for GetNode and
// GetAccountUsage, several statements each in its own snapshot (as on SQLite, where each runs
// outside a transaction).
// GetNode reads the node's hardware identity itself (the PostgreSQL twin of node_hardware.cc's
// ReadNodeHardware, same rows, same 50 changes).
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/fleet_reader.h"

namespace prov::server {

class PgFleetReader : public FleetReader {
 public:
  // INVALID_ARGUMENT when `connections` is 0.
  static absl::StatusOr<std::unique_ptr<PgFleetReader>> Open(
      const std::string& conninfo, size_t connections = 4,
      absl::Duration connect_timeout = absl::Seconds(10));
  // Over sessions already open on a migrated database (at least one).
  explicit PgFleetReader(std::vector<std::unique_ptr<PgConn>> conns);
  explicit PgFleetReader(std::unique_ptr<PgConn> conn);

  absl::StatusOr<std::vector<provenance::v1::NodeSummary>> ListNodes(
      const NodeQuery& query) override;
  absl::StatusOr<provenance::v1::GetNodeResponse> GetNode(const std::string& node_id) override;
  absl::StatusOr<std::vector<provenance::v1::WorkloadSummary>> ListWorkloads(
      const WorkloadQuery& query) override;
  absl::StatusOr<std::vector<provenance::v1::AccountUsage>> GetAccountUsage(
      const UsageQuery& query) override;
  // pg_fleet_reader_fleet.cc
  absl::StatusOr<provenance::v1::GetFleetOverviewResponse> FleetOverview(
      absl::Time silent_before) override;
  absl::StatusOr<std::vector<provenance::v1::AcceleratorRecord>> ListAccelerators(
      const AcceleratorQuery& query) override;
  absl::StatusOr<provenance::v1::GetAccountUsageSeriesResponse> GetAccountUsageSeries(
      const UsageSeriesQuery& query) override;
  absl::StatusOr<int64_t> CountNodes() override;
  absl::StatusOr<std::vector<AcceleratorCount>> CountAccelerators() override;
  absl::StatusOr<std::vector<DatacenterNodeCount>> CountNodesByDatacenter(
      absl::Time silent_before) override;
  absl::StatusOr<int64_t> CountReports() override;
  absl::StatusOr<int64_t> CountRejectingNodes(absl::Time heard_after) override;
  absl::StatusOr<AgentLosses> SumAgentLosses() override;

 private:
  // Runs `once(PgConn&)` on a borrowed session under RunWithReconnect's rule.
  template <typename F>
  auto Read(F once) -> decltype(once(std::declval<PgConn&>()));
  std::unique_ptr<PgConn> Acquire();
  void Release(std::unique_ptr<PgConn> conn);
  absl::StatusOr<int64_t> Count(absl::string_view sql, std::vector<PgParam> params);

  absl::Mutex mu_;
  std::vector<std::unique_ptr<PgConn>> idle_ ABSL_GUARDED_BY(mu_);
};

template <typename F>
auto PgFleetReader::Read(F once) -> decltype(once(std::declval<PgConn&>())) {
  std::unique_ptr<PgConn> conn = Acquire();
  auto result = RunWithReconnect(*conn, [&] { return once(*conn); });
  Release(std::move(conn));
  return result;
}

}  // namespace prov::server
