// StoreReader: the SQLite FleetReader (repo/fleet_reader.h): read-only queries over provd's SQLite
// database, for AuditService and metrics.
//
//   PROV_ASSIGN_OR_RETURN(auto reader, StoreReader::Open(store->path()));   // after Store::Open
//   PROV_ASSIGN_OR_RETURN(auto nodes, reader->ListNodes({.datacenter = "fra1"}));
//
// Each query borrows a read-only connection (SQLITE_OPEN_READONLY, query_only) from a small pool,
// so queries run beside the writer thanks to WAL and never block ingest. Results are proto
// messages from audit.proto; NodeSummary.silent is left for the caller (it needs the clock).
// Thread-safety: every method may be called from any thread concurrently.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "provenance/v1/audit.pb.h"
#include "server/store/repo/fleet_reader.h"
#include "server/store/sqlite.h"

namespace prov::server {

class StoreReader : public FleetReader {
 public:
  static absl::StatusOr<std::unique_ptr<StoreReader>> Open(const std::string& path,
                                                           size_t pooled_connections = 4);

  absl::StatusOr<std::vector<provenance::v1::NodeSummary>> ListNodes(
      const NodeQuery& query) override;
  absl::StatusOr<provenance::v1::GetNodeResponse> GetNode(const std::string& node_id) override;
  absl::StatusOr<std::vector<provenance::v1::WorkloadSummary>> ListWorkloads(
      const WorkloadQuery& query) override;
  absl::StatusOr<std::vector<provenance::v1::AccountUsage>> GetAccountUsage(
      const UsageQuery& query) override;
  // Fleet aggregates (store_reader_fleet.cc).
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
  class Lease;
  StoreReader(std::string path, size_t pooled) : path_(std::move(path)), pooled_(pooled) {}
  absl::StatusOr<std::unique_ptr<SqliteDb>> Acquire();
  void Release(std::unique_ptr<SqliteDb> db);

  const std::string path_;
  const size_t pooled_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<SqliteDb>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
