// SqliteNodeRevocationRepository: revoked nodes (repo/node_revocations.h) in provd's SQLite file,
// table `node_revocations` (SCHEMA.md, version 10). The SQL formerly in
// server/store/node_revocations.cc.
//
//   PROV_ASSIGN_OR_RETURN(auto repo, SqliteNodeRevocationRepository::Open(data_dir + "/provd.db"));
//   PROV_ASSIGN_OR_RETURN(std::vector<StoredRevocation> all, repo->List());
//
// Open migrates the schema on a read-write connection of its own. Revoke runs in a BEGIN
// IMMEDIATE transaction with its audit entry. Thread-safe (one call at a time under its mutex).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/repo/node_revocations.h"
#include "server/store/sqlite.h"

namespace prov::server {

class SqliteNodeRevocationRepository : public NodeRevocationRepository {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteNodeRevocationRepository>> Open(
      const std::string& db_path);

  absl::StatusOr<StoredRevocation> Revoke(const StoredRevocation& r,
                                          const AuditRecord& audit) override;
  absl::StatusOr<std::vector<StoredRevocation>> List() override;
  absl::StatusOr<int64_t> Revision() override;

 private:
  explicit SqliteNodeRevocationRepository(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
