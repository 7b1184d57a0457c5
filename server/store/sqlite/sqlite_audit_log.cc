#include "server/store/sqlite/sqlite_audit_log.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

integrity::ChainEntry ReadEntry(const Statement& st) {
  integrity::ChainEntry e;
  e.seq = static_cast<uint64_t>(st.ColumnInt64(0));
  e.time_unix_micros = st.ColumnInt64(1);
  e.actor = st.ColumnText(2);
  e.action = st.ColumnText(3);
  e.payload = st.ColumnText(4);
  e.prev_hash = st.ColumnText(5);
  e.hash = st.ColumnText(6);
  return e;
}

constexpr char kAuditColumns[] = "seq, time_us, actor, action, payload, prev_hash, hash";

}  // namespace

absl::StatusOr<integrity::ChainAnchor> AuditHead(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db.Cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  integrity::ChainAnchor head{0, integrity::kGenesisHash};
  if (row) head = {static_cast<uint64_t>(st->ColumnInt64(0)), st->ColumnText(1)};
  st->Reset();
  return head;
}

absl::StatusOr<integrity::ChainEntry> AppendAuditEntry(SqliteDb& db, absl::string_view actor,
                                                       absl::string_view action,
                                                       absl::string_view payload, absl::Time now) {
  if (sqlite3_get_autocommit(db.raw()) != 0) {
    return absl::FailedPreconditionError(
        "audit entries are appended inside the transaction of the change they record");
  }
  PROV_ASSIGN_OR_RETURN(integrity::ChainAnchor head, AuditHead(db));
  integrity::ChainEntry e = NextAuditEntry(head, actor, action, payload, now);
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db.Cached(absl::StrCat("INSERT INTO audit_log(", kAuditColumns,
                                               ") VALUES (?, ?, ?, ?, ?, ?, ?)")));
  st->BindInt64(1, static_cast<int64_t>(e.seq));
  st->BindInt64(2, e.time_unix_micros);
  st->BindText(3, e.actor);
  st->BindText(4, e.action);
  st->BindText(5, e.payload);
  st->BindText(6, e.prev_hash);
  st->BindText(7, e.hash);
  absl::Status ran = st->Run();
  st->Reset();
  PROV_RETURN_IF_ERROR(ran);
  return e;
}

absl::StatusOr<std::unique_ptr<SqliteAuditLogRepository>> SqliteAuditLogRepository::Open(
    const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadOnly));
  return std::unique_ptr<SqliteAuditLogRepository>(new SqliteAuditLogRepository(std::move(db)));
}

absl::StatusOr<std::vector<integrity::ChainEntry>> SqliteAuditLogRepository::List(
    uint64_t after_seq, uint32_t limit, absl::string_view action_prefix) {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db_->Cached(absl::StrCat("SELECT ", kAuditColumns,
                               " FROM audit_log WHERE seq > ? AND substr(action, 1, ?) = ? "
                               "ORDER BY seq LIMIT ?")));
  st->BindInt64(1, static_cast<int64_t>(after_seq));
  st->BindInt64(2, static_cast<int64_t>(action_prefix.size()));
  st->BindText(3, action_prefix);
  st->BindInt64(4, limit);
  std::vector<integrity::ChainEntry> out;
  while (true) {
    auto row = st->Step();
    if (!row.ok()) {
      st->Reset();
      return row.status();
    }
    if (!*row) break;
    out.push_back(ReadEntry(*st));
  }
  st->Reset();
  return out;
}

absl::StatusOr<AuditVerification> SqliteAuditLogRepository::Verify(
    std::optional<integrity::ChainAnchor> anchor) {
  absl::MutexLock lock(&mu_);
  // One snapshot of the log and the exports' anchors.
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kRead));
  if (!anchor.has_value()) {
    PROV_ASSIGN_OR_RETURN(
        auto st, db_->Prepare("SELECT audit_head_seq, audit_head_hash FROM exports "
                              "WHERE audit_head_seq > 0 ORDER BY created_us DESC LIMIT 1"));
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (row)
      anchor = integrity::ChainAnchor{static_cast<uint64_t>(st->ColumnInt64(0)), st->ColumnText(1)};
  }
  PROV_ASSIGN_OR_RETURN(auto st, db_->Prepare(absl::StrCat("SELECT ", kAuditColumns,
                                                           " FROM audit_log ORDER BY rowid")));
  std::vector<integrity::ChainEntry> entries;
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    entries.push_back(ReadEntry(*st));
  }
  PROV_RETURN_IF_ERROR(txn.Commit());
  return VerifyAuditEntries(entries, std::move(anchor));
}

absl::StatusOr<integrity::ChainAnchor> SqliteAuditLogRepository::Head() {
  absl::MutexLock lock(&mu_);
  return AuditHead(*db_);
}

}  // namespace prov::server
