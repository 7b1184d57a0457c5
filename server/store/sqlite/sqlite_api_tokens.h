// SqliteApiTokenRepository: the API tokens (repo/api_tokens.h) in provd's SQLite file, table
// `api_tokens` (SCHEMA.md, versions 1 and 13). The SQL formerly in server/access/token_store.cc.
//
//   PROV_ASSIGN_OR_RETURN(auto repo, SqliteApiTokenRepository::Open(data_dir + "/provd.db"));
//   PROV_ASSIGN_OR_RETURN(auto tokens, TokenStore::Create(std::move(repo), clock));
//
// Open migrates the schema (as TokenStore::Open did) on a read-write connection of its own.
// Writes run in BEGIN IMMEDIATE transactions with their audit entry (AppendAuditEntry). Revoke's
// UPDATE is conditional (revoked_us = 0), so a second revoke from another connection changes
// nothing. InsertIfRoleVacant looks for a live token of the role inside the same BEGIN IMMEDIATE
// transaction, so no other connection writes between its look and its insert. Thread-safe (one call
// at a time under its mutex).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/repo/api_tokens.h"
#include "server/store/sqlite.h"

namespace prov::server {

class SqliteApiTokenRepository : public ApiTokenRepository {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteApiTokenRepository>> Open(const std::string& db_path);

  absl::StatusOr<std::vector<StoredApiToken>> LoadAll() override;
  absl::StatusOr<int64_t> Revision() override;
  absl::Status Insert(const StoredApiToken& token, const AuditRecord& audit) override;
  absl::StatusOr<bool> InsertIfRoleVacant(const StoredApiToken& token, const AuditRecord& audit,
                                          absl::Time now) override;
  absl::StatusOr<StoredApiToken> Revoke(const std::string& token_id, absl::Time at,
                                        const AuditRecord& audit) override;

 private:
  explicit SqliteApiTokenRepository(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  absl::StatusOr<std::optional<StoredApiToken>> Find(const std::string& token_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Inside a write transaction: the clash check, the INSERT and its audit entry.
  absl::Status InsertRow(const StoredApiToken& token, const AuditRecord& audit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
