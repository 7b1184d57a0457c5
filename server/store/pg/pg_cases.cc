#include "server/store/pg/pg_cases.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {
namespace {

constexpr char kCaseColumns[] =
    "flag_id, status, disposition, assignee, duplicate_of, revision, updated_us";

absl::StatusOr<StoredCase> ReadRow(const PgResult& r, int i) {
  StoredCase c;
  c.flag_id = r.Text(i, 0);
  PROV_ASSIGN_OR_RETURN(c.status, r.Int64(i, 1));
  PROV_ASSIGN_OR_RETURN(c.disposition, r.Int64(i, 2));
  c.assignee = r.Text(i, 3);
  c.duplicate_of = r.Text(i, 4);
  PROV_ASSIGN_OR_RETURN(int64_t revision, r.Int64(i, 5));
  c.revision = static_cast<uint64_t>(revision);
  PROV_ASSIGN_OR_RETURN(c.updated_us, r.Int64(i, 6));
  return c;
}

absl::StatusOr<std::optional<StoredCase>> GetOnce(PgConn& conn, absl::string_view flag_id) {
  PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(absl::StrCat("SELECT ", kCaseColumns,
                                                            " FROM cases WHERE flag_id = $1"),
                                               {flag_id}));
  if (r.rows() == 0) return std::nullopt;
  PROV_ASSIGN_OR_RETURN(StoredCase c, ReadRow(r, 0));
  return c;
}

// The transaction's body: the case lock, the read, decide, the writes and the audit entry.
absl::Status ApplyInTransaction(PgConn& conn, absl::string_view flag_id,
                                CaseRepository::Decide decide, StoredCase& out) {
  PROV_RETURN_IF_ERROR(
      conn.Query("SELECT pg_advisory_xact_lock($1::int, $2::int)", {kPgLockKey, kPgCaseLock})
          .status());
  PROV_ASSIGN_OR_RETURN(std::optional<StoredCase> stored, GetOnce(conn, flag_id));
  PROV_ASSIGN_OR_RETURN(CaseChange change, decide(stored));
  PROV_RETURN_IF_ERROR(CheckCaseChange(flag_id, stored, change));
  const StoredCase& c = change.after;
  PROV_RETURN_IF_ERROR(conn.Query("INSERT INTO case_actions(flag_id, seq, time_us, actor, "
                                  "action) VALUES ($1, $2, $3, $4, $5)",
                                  {c.flag_id, static_cast<int64_t>(c.revision), change.time_us,
                                   change.actor, PgParam::Bytes(change.action)})
                           .status());
  PROV_RETURN_IF_ERROR(
      conn.Query("INSERT INTO cases(flag_id, status, disposition, assignee, duplicate_of, "
                 "revision, updated_us) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT "
                 "(flag_id) DO UPDATE SET status = EXCLUDED.status, disposition = "
                 "EXCLUDED.disposition, assignee = EXCLUDED.assignee, duplicate_of = "
                 "EXCLUDED.duplicate_of, revision = EXCLUDED.revision, updated_us = "
                 "EXCLUDED.updated_us",
                 {c.flag_id, c.status, c.disposition, c.assignee, c.duplicate_of,
                  static_cast<int64_t>(c.revision), c.updated_us})
          .status());
  PROV_RETURN_IF_ERROR(AppendAuditEntry(conn, change.actor, change.audit_action,
                                        change.audit_payload, absl::FromUnixMicros(change.time_us))
                           .status());
  out = c;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgCaseRepository>> PgCaseRepository::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/cases",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::unique_ptr<PgCaseRepository>(new PgCaseRepository(std::move(conn)));
}

absl::StatusOr<std::optional<StoredCase>> PgCaseRepository::Get(absl::string_view flag_id) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return GetOnce(conn, flag_id); });
}

absl::StatusOr<std::vector<std::string>> PgCaseRepository::Actions(absl::string_view flag_id) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::vector<std::string>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Query("SELECT action FROM case_actions WHERE flag_id = $1 ORDER BY seq", {flag_id}));
    std::vector<std::string> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(std::string action, r.Bytes(i, 0));
      out.push_back(std::move(action));
    }
    return out;
  });
}

absl::StatusOr<std::vector<StoredCase>> PgCaseRepository::List() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::vector<StoredCase>> {
    PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(absl::StrCat("SELECT ", kCaseColumns,
                                                              " FROM cases ORDER BY flag_id")));
    std::vector<StoredCase> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(StoredCase c, ReadRow(r, i));
      out.push_back(std::move(c));
    }
    return out;
  });
}

absl::StatusOr<StoredCase> PgCaseRepository::Apply(absl::string_view flag_id, Decide decide) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  PROV_RETURN_IF_ERROR(conn.Reconnect());
  StoredCase out;
  bool committing = false;  // the body succeeded: COMMIT is sent next
  auto once = [&]() -> absl::Status {
    committing = false;
    return conn.Transaction([&]() -> absl::Status {
      PROV_RETURN_IF_ERROR(ApplyInTransaction(conn, flag_id, decide, out));
      committing = true;
      return absl::OkStatus();
    });
  };
  absl::Status s = once();
  // A session found gone before COMMIT was sent committed nothing: run once more on a new one
  // (libpq notices a dropped session only when it next uses it, here at BEGIN). A failed COMMIT
  // is not repeated: it may have landed.
  if (!s.ok() && !committing && absl::IsUnavailable(s) && !conn.ok()) {
    PROV_RETURN_IF_ERROR(conn.Reconnect());
    s = once();
  }
  PROV_RETURN_IF_ERROR(s);
  return out;
}

}  // namespace prov::server
