// PgRetentionRepository: retention's deletes and its audit entry (repo/retention.h) in
// PostgreSQL (pg_schema.cc: reports, account_usage_hourly, workloads, workload_details,
// case_actions, audit_log).
//
//   PROV_ASSIGN_OR_RETURN(auto repo, PgRetentionRepository::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(auto pruner, RetentionPruner::Create(std::move(repo), clock, retention));
//
// Open connects (application_name provd/retention, search_path provd) and migrates the schema.
// The SQL is SQLite's (sqlite/sqlite_retention.cc) translated: the batched deletes pick their rows
// by ctid (`DELETE ... WHERE ctid IN (SELECT ctid ... LIMIT n)`, rows keyed by more than one
// column) or by id (workloads; reports: `id = ANY($1::bigint[])` of the batch read in id order).
// reports and account_usage_hourly are partitioned by day (pg_partitions.h): DeleteReports and
// DeleteUsageHours first drop every day partition wholly before the cutoff (each its own
// transaction, rows counted before the DROP), then delete the rest row by row as SQLite does:
// only the partial day at the cutoff and the DEFAULT partition hold any (server/store/README.md,
// "Day partitions"). The other tables are row deletes, dead tuples left to autovacuum. Each batch
// is one READ COMMITTED transaction; a row another transaction changed meanwhile keeps its place
// until the next batch or pass. A batch is not repeated on a lost session (UNAVAILABLE; the next
// pass deletes the rest): each Delete* first makes sure its session is alive (UsablePgSession).
// RecordPrune is its own transaction with AppendAuditEntry (lock 1); LastPruneTime is a read
// (RunWithReconnect). Thread-compatible (one thread, the scheduler's, uses it).
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/retention.h"

namespace prov::server {

class PgRetentionRepository : public RetentionRepository {
 public:
  static absl::StatusOr<std::unique_ptr<PgRetentionRepository>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));
  // An open session (search_path provd, schema migrated).
  explicit PgRetentionRepository(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}

  absl::StatusOr<uint64_t> DeleteReports(int64_t cutoff_us, int batch_rows) override;
  absl::StatusOr<uint64_t> DeleteUsageHours(int64_t cutoff_us, int batch_rows) override;
  absl::StatusOr<uint64_t> DeleteWorkloadDetails(int64_t cutoff_us, int batch_rows) override;
  absl::StatusOr<uint64_t> DeleteWorkloads(int64_t cutoff_us, int batch_rows) override;
  absl::StatusOr<uint64_t> DeleteCaseActions(int64_t cutoff_us, int batch_rows) override;
  absl::Status RecordPrune(const AuditRecord& entry) override;
  absl::StatusOr<std::optional<absl::Time>> LastPruneTime() override;

 private:
  // Runs `sql` ($1 = cutoff, $2 = batch size, $3 = *account when given), one transaction per
  // batch, until a batch deletes fewer than batch_rows rows.
  absl::StatusOr<uint64_t> DeleteInBatches(const char* sql, int64_t cutoff_us, int batch_rows,
                                           const std::string* account = nullptr);

  std::unique_ptr<PgConn> conn_;
};

}  // namespace prov::server
