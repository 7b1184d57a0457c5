// RetentionRepository: the deletes of records older than the retention cutoff and the
// "retention.prune" audit entry (server/export/retention.h says what goes and what is kept), on
// either engine: SqliteRetentionRepository (server/store/sqlite/) or PgRetentionRepository
// (server/store/pg/). tests/store/exports_conformance_test.cc holds both to the same behaviour.
//
//   PROV_ASSIGN_OR_RETURN(auto repo, SqliteRetentionRepository::Open(data_dir + "/provd.db"));
//   PROV_ASSIGN_OR_RETURN(uint64_t n, repo->DeleteWorkloads(cutoff_us, 5000));
//   PROV_RETURN_IF_ERROR(repo->RecordPrune({"provd", "retention.prune", payload, now}));
//
// Each Delete* deletes in batches of at most batch_rows rows, each batch its own short write
// transaction (the ingest writer is never held off for long), until a batch deletes fewer; it
// returns how many rows it deleted. Row deletes on SQLite; on PostgreSQL whole day partitions
// of reports and account_usage_hourly are dropped first (counted in the result), the rest are
// row deletes (`DELETE ... WHERE ctid IN (SELECT ctid ... LIMIT n)` or ids). Nothing at or after
// the cutoff is deleted. batch_rows < 1 is INVALID_ARGUMENT.
// Thread-compatible (the scheduler thread calls it).
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/repo/audit_appender.h"

namespace prov::server {

class RetentionRepository {
 public:
  virtual ~RetentionRepository() = default;
  // Reports collected before the cutoff, walked in id (arrival) order up to the first one
  // received at or after the cutoff (a report collected before it but received after it goes in
  // a later pass; on PostgreSQL it goes at once when its whole day partition is dropped).
  virtual absl::StatusOr<uint64_t> DeleteReports(int64_t cutoff_us, int batch_rows) = 0;
  // Usage hours that ended before the cutoff (hour_us <= cutoff - 1 h), one account at a time.
  virtual absl::StatusOr<uint64_t> DeleteUsageHours(int64_t cutoff_us, int batch_rows) = 0;
  // workload_details of workloads last seen before the cutoff.
  virtual absl::StatusOr<uint64_t> DeleteWorkloadDetails(int64_t cutoff_us, int batch_rows) = 0;
  // Workloads last seen before the cutoff.
  virtual absl::StatusOr<uint64_t> DeleteWorkloads(int64_t cutoff_us, int batch_rows) = 0;
  // Actions before the cutoff on cases resolved before the cutoff.
  virtual absl::StatusOr<uint64_t> DeleteCaseActions(int64_t cutoff_us, int batch_rows) = 0;
  // Appends the pass's audit entry (its own transaction).
  virtual absl::Status RecordPrune(const AuditRecord& entry) = 0;
  // When the newest "retention.prune" audit entry was written; nullopt when never.
  virtual absl::StatusOr<std::optional<absl::Time>> LastPruneTime() = 0;
};

}  // namespace prov::server
