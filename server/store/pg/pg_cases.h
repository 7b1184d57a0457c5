// PgCaseRepository: the compliance cases (repo/cases.h) in PostgreSQL, tables provd.cases and
// provd.case_actions (pg_schema.cc, PostgreSQL version 3).
//
//   PROV_ASSIGN_OR_RETURN(auto cases, PgCaseRepository::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(StoredCase after, cases->Apply("F-000003", decide));
//
// Open connects (application_name provd/cases, search_path provd) and migrates the schema under
// the migration lock, as the other PostgreSQL repositories do. Apply is one READ COMMITTED
// transaction that first takes the transaction-level advisory lock (kPgLockKey, kPgCaseLock), so
// the case read after it sees every change committed before, on any connection or replica: two
// analysts acting on one case from two replicas are applied one after the other, and the second
// decides on the first's result (a stale expected_revision is refused, not written over). The
// audit entry is appended in the same transaction (pg_audit_log.h; its lock is taken after this
// one). The wait is bounded by the session's lock_timeout (UNAVAILABLE). A session found gone
// before COMMIT was sent (libpq notices a dropped session at the next statement, here BEGIN) is
// replaced and Apply runs once more (decide is asked again); a failed COMMIT is not repeated (it
// may have landed: the caller decides, its expected_revision makes a retry safe). The reads run
// once more on a new session too (RunWithReconnect). Thread-safe (one call at a time under its
// mutex).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/cases.h"

namespace prov::server {

class PgCaseRepository : public CaseRepository {
 public:
  static absl::StatusOr<std::unique_ptr<PgCaseRepository>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));

  absl::StatusOr<std::optional<StoredCase>> Get(absl::string_view flag_id) override;
  absl::StatusOr<std::vector<std::string>> Actions(absl::string_view flag_id) override;
  absl::StatusOr<std::vector<StoredCase>> List() override;
  absl::StatusOr<StoredCase> Apply(absl::string_view flag_id, Decide decide) override;

 private:
  explicit PgCaseRepository(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}

  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
