#include "server/store/pg/pg_audit_log.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {
namespace {

constexpr char kAuditColumns[] = "seq, time_us, actor, action, payload, prev_hash, hash";

absl::StatusOr<std::vector<integrity::ChainEntry>> ReadEntries(const PgResult& r) {
  std::vector<integrity::ChainEntry> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    integrity::ChainEntry e;
    PROV_ASSIGN_OR_RETURN(int64_t seq, r.Int64(i, 0));
    e.seq = static_cast<uint64_t>(seq);
    PROV_ASSIGN_OR_RETURN(e.time_unix_micros, r.Int64(i, 1));
    e.actor = r.Text(i, 2);
    e.action = r.Text(i, 3);
    e.payload = r.Text(i, 4);
    e.prev_hash = r.Text(i, 5);
    e.hash = r.Text(i, 6);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

absl::StatusOr<integrity::ChainAnchor> AuditHead(PgConn& conn) {
  PROV_ASSIGN_OR_RETURN(PgResult r,
                        conn.Query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
  if (r.rows() == 0) return integrity::ChainAnchor{0, integrity::kGenesisHash};
  PROV_ASSIGN_OR_RETURN(int64_t seq, r.Int64(0, 0));
  return integrity::ChainAnchor{static_cast<uint64_t>(seq), r.Text(0, 1)};
}

absl::StatusOr<integrity::ChainEntry> AppendAuditEntry(PgConn& conn, absl::string_view actor,
                                                       absl::string_view action,
                                                       absl::string_view payload, absl::Time now) {
  if (!conn.InTransaction()) {
    return absl::FailedPreconditionError(
        "audit entries are appended inside the transaction of the change they record "
        "(PgConn::Transaction)");
  }
  // Serialises appenders across sessions and replicas until this transaction ends. Its own
  // statement: under READ COMMITTED the head read below then takes a snapshot after the lock.
  PROV_ASSIGN_OR_RETURN(PgResult locked,
                        conn.Query("SELECT current_setting('transaction_isolation'), "
                                   "pg_advisory_xact_lock($1::int, $2::int)",
                                   {kPgLockKey, kPgAuditAppendLock}));
  const std::string isolation = locked.Text(0, 0);
  if (isolation != "read committed") {
    return absl::FailedPreconditionError(
        absl::StrCat("audit entries are appended in READ COMMITTED transactions; this one is ",
                     isolation, ", whose snapshot may predate the previous append"));
  }
  PROV_ASSIGN_OR_RETURN(integrity::ChainAnchor head, AuditHead(conn));
  integrity::ChainEntry e = NextAuditEntry(head, actor, action, payload, now);
  PROV_RETURN_IF_ERROR(conn.Query(absl::StrCat("INSERT INTO audit_log(", kAuditColumns,
                                               ") VALUES ($1, $2, $3, $4, $5, $6, $7)"),
                                  {static_cast<int64_t>(e.seq), e.time_unix_micros, e.actor,
                                   e.action, e.payload, e.prev_hash, e.hash})
                           .status());
  return e;
}

absl::StatusOr<std::unique_ptr<PgAuditLogRepository>> PgAuditLogRepository::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/audit",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::unique_ptr<PgAuditLogRepository>(new PgAuditLogRepository(std::move(conn)));
}

absl::StatusOr<std::vector<integrity::ChainEntry>> PgAuditLogRepository::List(
    uint64_t after_seq, uint32_t limit, absl::string_view action_prefix) {
  absl::MutexLock lock(&mu_);
  return RunWithReconnect(*conn_, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return ListOnce(after_seq, limit, action_prefix);
  });
}

absl::StatusOr<std::vector<integrity::ChainEntry>> PgAuditLogRepository::ListOnce(
    uint64_t after_seq, uint32_t limit, absl::string_view action_prefix) {
  PROV_ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Query(absl::StrCat("SELECT ", kAuditColumns,
                                " FROM audit_log WHERE seq > $1 AND "
                                "starts_with(action, $2) ORDER BY seq LIMIT $3"),
                   {static_cast<int64_t>(after_seq), action_prefix, static_cast<int64_t>(limit)}));
  return ReadEntries(r);
}

absl::StatusOr<AuditVerification> PgAuditLogRepository::Verify(
    std::optional<integrity::ChainAnchor> anchor) {
  absl::MutexLock lock(&mu_);
  return RunWithReconnect(*conn_,
                          [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return VerifyOnce(anchor); });
}

absl::StatusOr<AuditVerification> PgAuditLogRepository::VerifyOnce(
    std::optional<integrity::ChainAnchor> anchor) {
  std::vector<integrity::ChainEntry> entries;
  PgConn& conn = *conn_;  // the lambda runs under mu_ too (the analysis cannot see into it)
  // One snapshot of the log and the exports' anchors.
  PROV_RETURN_IF_ERROR(conn.Transaction(
      [&]() -> absl::Status {
        if (!anchor.has_value()) {
          PROV_ASSIGN_OR_RETURN(
              PgResult a, conn.Query("SELECT audit_head_seq, audit_head_hash FROM exports "
                                     "WHERE audit_head_seq > 0 ORDER BY created_us DESC LIMIT 1"));
          if (a.rows() > 0) {
            PROV_ASSIGN_OR_RETURN(int64_t seq, a.Int64(0, 0));
            anchor = integrity::ChainAnchor{static_cast<uint64_t>(seq), a.Text(0, 1)};
          }
        }
        PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(absl::StrCat("SELECT ", kAuditColumns,
                                                                  " FROM audit_log ORDER BY seq")));
        PROV_ASSIGN_OR_RETURN(entries, ReadEntries(r));
        return absl::OkStatus();
      },
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  return VerifyAuditEntries(entries, std::move(anchor));
}

absl::StatusOr<integrity::ChainAnchor> PgAuditLogRepository::Head() {
  absl::MutexLock lock(&mu_);
  return RunWithReconnect(*conn_,
                          [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return AuditHead(*conn_); });
}

}  // namespace prov::server
