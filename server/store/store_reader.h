// StoreReader: read-only queries over provd's SQLite database, for AuditService and metrics.
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
#include "server/store/sqlite.h"

namespace prov::server {

struct NodeQuery {
  std::string datacenter;  // empty: all
  size_t limit = 1000;
};
struct WorkloadQuery {
  std::string account, node_id, datacenter;  // empty: no filter
  size_t limit = 1000;
};
struct UsageQuery {
  std::string account;              // empty: every account
  std::optional<absl::Time> since;  // hourly granularity: hours starting at or after
  std::optional<absl::Time> until;  // hours starting before
};
struct AcceleratorQuery {
  uint32_t vendor_id = 0, device_id = 0;      // 0: any
  std::string datacenter = {}, node_id = {};  // empty: any
  size_t limit = 1000;
};
struct UsageSeriesQuery {
  std::string account = {};  // required
  std::optional<absl::Time> since = {}, until = {};
  uint32_t bucket_hours = 0;  // 0: chosen to keep at most kMaxSeriesPoints points
};
struct AcceleratorCount {
  std::string vendor, model;
  int64_t count = 0;
};
// Nodes of one data centre split by freshness: silent = newest report collected before the cutoff
// (the same rule as NodeSummary.silent in AuditService).
struct DatacenterNodeCount {
  std::string datacenter;  // as reported; may be empty
  int64_t reporting = 0, silent = 0;
};

class StoreReader {
 public:
  static absl::StatusOr<std::unique_ptr<StoreReader>> Open(const std::string& path,
                                                           size_t pooled_connections = 4);

  absl::StatusOr<std::vector<provenance::v1::NodeSummary>> ListNodes(const NodeQuery& query);
  // NOT_FOUND when the node is unknown.
  absl::StatusOr<provenance::v1::GetNodeResponse> GetNode(const std::string& node_id);
  absl::StatusOr<std::vector<provenance::v1::WorkloadSummary>> ListWorkloads(
      const WorkloadQuery& query);
  absl::StatusOr<std::vector<provenance::v1::AccountUsage>> GetAccountUsage(
      const UsageQuery& query);
  // Fleet aggregates (store_reader_fleet.cc), one read transaction; a node is silent when its
  // last report was collected before `silent_before`.
  absl::StatusOr<provenance::v1::GetFleetOverviewResponse> FleetOverview(absl::Time silent_before);
  absl::StatusOr<std::vector<provenance::v1::AcceleratorRecord>> ListAccelerators(
      const AcceleratorQuery& query);
  absl::StatusOr<provenance::v1::GetAccountUsageSeriesResponse> GetAccountUsageSeries(
      const UsageSeriesQuery& query);
  static constexpr size_t kMaxSeriesPoints = 500;
  absl::StatusOr<int64_t> CountNodes();
  absl::StatusOr<std::vector<AcceleratorCount>> CountAccelerators();
  // Per data centre (sorted), nodes whose newest report was collected at/after silent_before
  // (reporting) and before it (silent).
  absl::StatusOr<std::vector<DatacenterNodeCount>> CountNodesByDatacenter(absl::Time silent_before);
  absl::StatusOr<int64_t> CountReports();
  // Nodes in a rejecting spell (rejecting_since_us set: every report since the last stored one was
  // rejected) whose latest rejection is at or after heard_after.
  absl::StatusOr<int64_t> CountRejectingNodes(absl::Time heard_after);
  // Reports the fleet's agents lost before sending them, as their newest reports say (cumulative
  // per agent spool): dropped because the spool was full, and unreadable from it.
  struct AgentLosses {
    int64_t dropped = 0, unreadable = 0;
  };
  absl::StatusOr<AgentLosses> SumAgentLosses();

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
