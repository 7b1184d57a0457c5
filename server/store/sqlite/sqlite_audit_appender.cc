#include "server/store/sqlite/sqlite_audit_appender.h"

#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/transaction.h"

namespace prov::server {

absl::StatusOr<std::unique_ptr<SqliteAuditAppender>> SqliteAuditAppender::Open(
    const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadWrite));
  return std::unique_ptr<SqliteAuditAppender>(new SqliteAuditAppender(std::move(db)));
}

absl::Status SqliteAuditAppender::Append(const AuditRecord& entry) {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  PROV_RETURN_IF_ERROR(
      AppendAuditEntry(*db_, entry.actor, entry.action, entry.payload, entry.at).status());
  return txn.Commit();
}

}  // namespace prov::server
