#include "server/store/pg/pg_audit_appender.h"

#include "common/status_macros.h"
#include "server/store/pg/pg_access.h"
#include "server/store/pg/pg_audit_log.h"

namespace prov::server {

absl::StatusOr<std::unique_ptr<PgAuditAppender>> PgAuditAppender::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PROV_ASSIGN_OR_RETURN(auto conn, OpenPgAccessConn(conninfo, connect_timeout));
  return std::unique_ptr<PgAuditAppender>(new PgAuditAppender(std::move(conn)));
}

absl::Status PgAuditAppender::Append(const AuditRecord& entry) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  PROV_RETURN_IF_ERROR(UsablePgSession(conn));
  return conn.Transaction([&]() -> absl::Status {
    return AppendAuditEntry(conn, entry.actor, entry.action, entry.payload, entry.at).status();
  });
}

}  // namespace prov::server
