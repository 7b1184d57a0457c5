// SqliteRetentionRepository: retention's deletes and its audit entry (repo/retention.h) on
// provd.db, on a read-write connection of its own (OpenConnection: busy_timeout, WAL).
//
//   PROV_ASSIGN_OR_RETURN(auto repo, SqliteRetentionRepository::Open(data_dir + "/provd.db"));
//   PROV_ASSIGN_OR_RETURN(uint64_t n, repo->DeleteReports(cutoff_us, 5000));
//
// Each batch is one BEGIN IMMEDIATE transaction; RecordPrune one more (AppendAuditEntry).
// Thread-compatible.
#pragma once

#include <memory>
#include <string>

#include "server/store/repo/retention.h"
#include "server/store/sqlite.h"

namespace prov::server {

class SqliteRetentionRepository : public RetentionRepository {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteRetentionRepository>> Open(
      const std::string& db_path);

  absl::StatusOr<uint64_t> DeleteReports(int64_t cutoff_us, int batch_rows) override;
  absl::StatusOr<uint64_t> DeleteUsageHours(int64_t cutoff_us, int batch_rows) override;
  absl::StatusOr<uint64_t> DeleteWorkloadDetails(int64_t cutoff_us, int batch_rows) override;
  absl::StatusOr<uint64_t> DeleteWorkloads(int64_t cutoff_us, int batch_rows) override;
  absl::StatusOr<uint64_t> DeleteCaseActions(int64_t cutoff_us, int batch_rows) override;
  absl::Status RecordPrune(const AuditRecord& entry) override;
  absl::StatusOr<std::optional<absl::Time>> LastPruneTime() override;

 private:
  explicit SqliteRetentionRepository(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  // Runs `sql` (a DELETE bound with ?1 = cutoff, ?2 = batch size, ?3 = *account when given),
  // one transaction per batch, until a batch deletes less than batch_rows rows.
  absl::StatusOr<uint64_t> DeleteInBatches(const std::string& sql, int64_t cutoff_us,
                                           int batch_rows, const std::string* account = nullptr);

  std::unique_ptr<SqliteDb> db_;
};

// INVALID_ARGUMENT when batch_rows < 1 (both engines).
absl::Status CheckBatchRows(int batch_rows);

}  // namespace prov::server
