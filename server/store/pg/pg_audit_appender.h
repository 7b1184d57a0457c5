// PgAuditAppender: audit entries that record nothing else (repo/audit_appender.h), on PostgreSQL
// (pg_schema.cc version 6). Connection, transaction and reconnection rules: pg_access.h.
//
//   PROV_ASSIGN_OR_RETURN(auto audit, PgAuditAppender::Open(url.pg_conninfo));
//   PROV_RETURN_IF_ERROR(audit->Append({"node:gpu-1", "node.enroll_refused", payload, now}));
//
// Thread-safe (one call at a time under its mutex, on its own connection).
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/audit_appender.h"

namespace prov::server {

class PgAuditAppender : public AuditAppender {
 public:
  static absl::StatusOr<std::unique_ptr<PgAuditAppender>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));
  absl::Status Append(const AuditRecord& entry) override;

 private:
  explicit PgAuditAppender(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
