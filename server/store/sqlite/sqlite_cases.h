// SqliteCaseRepository: the compliance cases (repo/cases.h) in provd's SQLite file, tables
// `cases` and `case_actions`, on a read-write connection of its own (OpenConnection: busy_timeout,
// WAL). The case code formerly in server/cases/case_manager.cc, moved.
//
//   PROV_ASSIGN_OR_RETURN(auto cases, SqliteCaseRepository::Open(data_dir + "/provd.db"));
//
// Open migrates the schema (a no-op once provd's store has). Apply runs in a BEGIN IMMEDIATE
// transaction, so the case read, its writes and the audit entry (AppendAuditEntry on the same
// connection) are one unit, serialised with every other writer of the file. Thread-safe (one call
// at a time under its mutex).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "server/store/repo/cases.h"
#include "server/store/sqlite.h"

namespace prov::server {

class SqliteCaseRepository : public CaseRepository {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteCaseRepository>> Open(const std::string& db_path);

  absl::StatusOr<std::optional<StoredCase>> Get(absl::string_view flag_id) override;
  absl::StatusOr<std::vector<std::string>> Actions(absl::string_view flag_id) override;
  absl::StatusOr<std::vector<StoredCase>> List() override;
  absl::StatusOr<StoredCase> Apply(absl::string_view flag_id, Decide decide) override;

 private:
  explicit SqliteCaseRepository(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  absl::StatusOr<std::optional<StoredCase>> GetLocked(absl::string_view flag_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
