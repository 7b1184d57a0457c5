// The audit log (repo/audit_log.h) in PostgreSQL, table provd.audit_log (pg_schema.cc,
// PostgreSQL version 2): the in-transaction append and the repository that lists and verifies.
//
//   // inside the transaction of the change being recorded, on the caller's connection:
//   PROV_RETURN_IF_ERROR(conn.Transaction([&]() -> absl::Status {
//     ... the change ...
//     return AppendAuditEntry(conn, "token:alice", "case.resolve", R"({"flag_id":"F-000007"})",
//                             clock.Now()).status();
//   }));
//
//   PROV_ASSIGN_OR_RETURN(auto log, PgAuditLogRepository::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(AuditVerification v, log->Verify(std::nullopt));
//
// Appends. AppendAuditEntry refuses to run outside a PgConn transaction (FAILED_PRECONDITION), so
// an entry is committed or rolled back with its change. PostgreSQL has no database-wide write lock
// (SQLite's BEGIN IMMEDIATE), so appenders on different connections or provd replicas are
// serialised by the transaction-level advisory lock pg_advisory_xact_lock(kPgLockKey,
// kPgAuditAppendLock) = (1347571542, 1), taken before the head is read and held until the
// caller's COMMIT or ROLLBACK. Under READ COMMITTED (PostgreSQL's default) the head read after
// the lock sees every append committed before it, so two replicas appending at once still build
// one unbroken chain (and seq, the primary key, refuses a fork even if the lock were bypassed).
// A REPEATABLE READ or SERIALIZABLE transaction would read the head in a snapshot older than the
// lock: refused (FAILED_PRECONDITION naming the isolation level). The lock wait is bounded by the
// session's lock_timeout (PgConnOptions: 10 s; then UNAVAILABLE [55P03]). Keep the transactions
// that append short: every other appender waits for them to end.
//
// The repository: Open connects (application_name provd/audit, search_path provd) and migrates
// the schema under the migration lock, as PgAlertDeliveryRepository::Open does. Its calls are
// reads: each reconnects a dropped or read-only session first and runs once more on a new session
// when the session was lost during the call. Verify reads the anchor and the log in one REPEATABLE
// READ READ ONLY transaction (one snapshot, as the SQLite repository's read transaction).
// Thread-safe (one call at a time under its mutex); AppendAuditEntry uses the caller's connection.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/audit_log.h"

namespace prov::server {

absl::StatusOr<integrity::ChainEntry> AppendAuditEntry(PgConn& conn, absl::string_view actor,
                                                       absl::string_view action,
                                                       absl::string_view payload, absl::Time now);

// The newest entry (seq 0, genesis hash when the log is empty), read on the caller's connection
// (inside its transaction, if one is open).
absl::StatusOr<integrity::ChainAnchor> AuditHead(PgConn& conn);

class PgAuditLogRepository : public AuditLogRepository {
 public:
  static absl::StatusOr<std::unique_ptr<PgAuditLogRepository>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));

  absl::StatusOr<std::vector<integrity::ChainEntry>> List(uint64_t after_seq, uint32_t limit,
                                                          absl::string_view action_prefix) override;
  absl::StatusOr<AuditVerification> Verify(std::optional<integrity::ChainAnchor> anchor) override;
  absl::StatusOr<integrity::ChainAnchor> Head() override;

 private:
  explicit PgAuditLogRepository(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  absl::StatusOr<std::vector<integrity::ChainEntry>> ListOnce(uint64_t after_seq, uint32_t limit,
                                                              absl::string_view action_prefix)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<AuditVerification> VerifyOnce(std::optional<integrity::ChainAnchor> anchor)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
