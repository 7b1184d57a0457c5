// SqliteAuditAppender: AuditAppender (repo/audit_appender.h) on provd's SQLite file: each entry
// in its own BEGIN IMMEDIATE transaction, on a read-write connection of its own (the SQL formerly
// in server/access/denial_auditor.cc and enrollment_service.cc's refusals).
//
//   PROV_ASSIGN_OR_RETURN(auto appender, SqliteAuditAppender::Open(data_dir + "/provd.db"));
//   PROV_RETURN_IF_ERROR(appender->Append({"node:gpu-1", "node.identity_mismatch", payload, now}));
//
// Does not migrate (provd's store has). Thread-safe (one append at a time under its mutex).
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/store/repo/audit_appender.h"
#include "server/store/sqlite.h"

namespace prov::server {

class SqliteAuditAppender : public AuditAppender {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteAuditAppender>> Open(const std::string& db_path);
  absl::Status Append(const AuditRecord& entry) override;

 private:
  explicit SqliteAuditAppender(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
