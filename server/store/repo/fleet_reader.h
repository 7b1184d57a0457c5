// FleetReader: the read-only fleet queries (nodes, workloads, accounts' usage, accelerators, the
// dashboard's aggregates, the metrics' counts) over the ingest tables, on either engine:
// StoreReader (server/store/store_reader.h, SQLite: pooled read-only connections) or
// PgFleetReader (server/store/pg/pg_fleet_reader.h). tests/store/fleet_reader_conformance_test.cc
// holds both to the same answers.
//
//   PROV_ASSIGN_OR_RETURN(auto reader, StoreReader::Open(store->path()));   // or PgFleetReader
//   FleetReader& fleet = *reader;
//   PROV_ASSIGN_OR_RETURN(auto nodes, fleet.ListNodes({.datacenter = "fra1"}));
//
// Results are proto messages from audit.proto; NodeSummary.silent is left for the caller (it needs
// the clock). Orders are byte orders of the text keys (COLLATE "C" on PostgreSQL, BINARY on
// SQLite). A `limit` of 0 answers nothing; one above INT64_MAX means no limit.
// Thread-safety: every method may be called from any thread concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "provenance/v1/audit.pb.h"

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
// Reports the fleet's agents lost before sending them, as their newest reports say (cumulative
// per agent spool): dropped because the spool was full, and unreadable from it.
struct AgentLosses {
  int64_t dropped = 0, unreadable = 0;
};

class FleetReader {
 public:
  using AgentLosses = ::prov::server::AgentLosses;
  static constexpr size_t kMaxSeriesPoints = 500;

  virtual ~FleetReader() = default;
  // By node_id.
  virtual absl::StatusOr<std::vector<provenance::v1::NodeSummary>> ListNodes(
      const NodeQuery& query) = 0;
  // The node, its hardware identity (with its newest 50 changes), accelerators (by PCI address)
  // and newest 100 evidence gaps. NOT_FOUND when the node is unknown.
  virtual absl::StatusOr<provenance::v1::GetNodeResponse> GetNode(const std::string& node_id) = 0;
  // By (account, workload_id, node_id).
  virtual absl::StatusOr<std::vector<provenance::v1::WorkloadSummary>> ListWorkloads(
      const WorkloadQuery& query) = 0;
  // By account; hours overlapping [since, until).
  virtual absl::StatusOr<std::vector<provenance::v1::AccountUsage>> GetAccountUsage(
      const UsageQuery& query) = 0;
  // Fleet aggregates, one read transaction; a node is silent when its last report was collected
  // before `silent_before`.
  virtual absl::StatusOr<provenance::v1::GetFleetOverviewResponse> FleetOverview(
      absl::Time silent_before) = 0;
  // By (node_id, PCI address).
  virtual absl::StatusOr<std::vector<provenance::v1::AcceleratorRecord>> ListAccelerators(
      const AcceleratorQuery& query) = 0;
  // One read transaction; buckets aligned to multiples of bucket_hours since the epoch.
  virtual absl::StatusOr<provenance::v1::GetAccountUsageSeriesResponse> GetAccountUsageSeries(
      const UsageSeriesQuery& query) = 0;
  virtual absl::StatusOr<int64_t> CountNodes() = 0;
  // By (vendor, model).
  virtual absl::StatusOr<std::vector<AcceleratorCount>> CountAccelerators() = 0;
  // Per data centre (sorted), nodes whose newest report was collected at/after silent_before
  // (reporting) and before it (silent).
  virtual absl::StatusOr<std::vector<DatacenterNodeCount>> CountNodesByDatacenter(
      absl::Time silent_before) = 0;
  virtual absl::StatusOr<int64_t> CountReports() = 0;
  // Nodes in a rejecting spell (rejecting_since_us set: every report since the last stored one was
  // rejected) whose latest rejection is at or after heard_after.
  virtual absl::StatusOr<int64_t> CountRejectingNodes(absl::Time heard_after) = 0;
  virtual absl::StatusOr<AgentLosses> SumAgentLosses() = 0;
};

// The series bucket GetAccountUsageSeries picks when the query leaves it 0, for an account whose
// stored hours in the window span `hours` hours: the first of 1, 6, 24 hours giving at most
// kMaxSeriesPoints points, else 168 (both engines).
uint32_t ChooseSeriesBucketHours(int64_t hours);

}  // namespace prov::server
