// The audit log (repo/audit_log.h) in provd's SQLite file: the in-transaction append and the
// repository that lists and verifies (the former server/auditlog/audit_log.cc, moved unchanged;
// server/auditlog/audit_log.h keeps the name AuditLogReader for it).
//
//   // inside the write transaction of the change being recorded, on any connection:
//   PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
//   ... the change ...
//   PROV_RETURN_IF_ERROR(AppendAuditEntry(db, "token:alice", "case.resolve",
//                                         R"({"flag_id":"F-000007"})", clock.Now()).status());
//   PROV_RETURN_IF_ERROR(txn.Commit());
//
//   PROV_ASSIGN_OR_RETURN(auto log, SqliteAuditLogRepository::Open(data_dir + "/provd.db"));
//   auto entries = log->List(/*after_seq=*/0, /*limit=*/100, "case.");
//
// Appends are serialised by SQLite's write lock: BEGIN IMMEDIATE makes the head read inside the
// transaction the head, whichever connection appends. AppendAuditEntry refuses to run outside a
// transaction (FAILED_PRECONDITION), so an entry can never be committed apart from its change.
// The repository reads on a read-only connection of its own and does not migrate (provd's store
// has). Thread-safe (one query at a time under its mutex).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/repo/audit_log.h"
#include "server/store/sqlite.h"

namespace prov::server {

absl::StatusOr<integrity::ChainEntry> AppendAuditEntry(SqliteDb& db, absl::string_view actor,
                                                       absl::string_view action,
                                                       absl::string_view payload, absl::Time now);

// The newest entry (seq 0, genesis hash when the log is empty), read on the caller's connection
// (inside its transaction, if one is open).
absl::StatusOr<integrity::ChainAnchor> AuditHead(SqliteDb& db);

class SqliteAuditLogRepository : public AuditLogRepository {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteAuditLogRepository>> Open(const std::string& db_path);

  absl::StatusOr<std::vector<integrity::ChainEntry>> List(uint64_t after_seq, uint32_t limit,
                                                          absl::string_view action_prefix) override;
  absl::StatusOr<AuditVerification> Verify(std::optional<integrity::ChainAnchor> anchor) override;
  absl::StatusOr<integrity::ChainAnchor> Head() override;

 private:
  explicit SqliteAuditLogRepository(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
