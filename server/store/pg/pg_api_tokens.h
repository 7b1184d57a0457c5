// PgApiTokenRepository: API tokens (repo/api_tokens.h), table provd.api_tokens, on PostgreSQL
// (pg_schema.cc version 6). Connection, transaction and reconnection rules: pg_access.h.
//
//   PROV_ASSIGN_OR_RETURN(auto repo, PgApiTokenRepository::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(auto tokens, TokenStore::Create(std::move(repo), clock));
//
// Revision() is count(*) + count(revoked) in one statement: a replica's TokenStore polls it.
// InsertIfRoleVacant takes the transaction-level advisory lock (kPgLockKey, kPgTokenLock) before
// it looks for a live token of the role, so a second caller's look waits for the first's commit
// and (READ COMMITTED: a new snapshot per statement) sees its row.
//
// Thread-safe (one call at a time under its mutex, on its own connection).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/api_tokens.h"

namespace prov::server {

class PgApiTokenRepository : public ApiTokenRepository {
 public:
  static absl::StatusOr<std::unique_ptr<PgApiTokenRepository>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));

  absl::StatusOr<std::vector<StoredApiToken>> LoadAll() override;
  absl::StatusOr<int64_t> Revision() override;
  absl::Status Insert(const StoredApiToken& token, const AuditRecord& audit) override;
  absl::StatusOr<bool> InsertIfRoleVacant(const StoredApiToken& token, const AuditRecord& audit,
                                          absl::Time now) override;
  absl::StatusOr<StoredApiToken> Revoke(const std::string& token_id, absl::Time at,
                                        const AuditRecord& audit) override;

 private:
  explicit PgApiTokenRepository(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  // Inside a transaction: the INSERT and its audit entry.
  absl::Status InsertRow(const StoredApiToken& token, const AuditRecord& audit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
