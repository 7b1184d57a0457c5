#include "server/store/sqlite/sqlite_cases.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

constexpr char kCaseColumns[] =
    "flag_id, status, disposition, assignee, duplicate_of, revision, updated_us";

StoredCase ReadRow(Statement& st) {
  StoredCase c;
  c.flag_id = st.ColumnText(0);
  c.status = st.ColumnInt64(1);
  c.disposition = st.ColumnInt64(2);
  c.assignee = st.ColumnText(3);
  c.duplicate_of = st.ColumnText(4);
  c.revision = static_cast<uint64_t>(st.ColumnInt64(5));
  c.updated_us = st.ColumnInt64(6);
  return c;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteCaseRepository>> SqliteCaseRepository::Open(
    const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(MigrateSchema(*db));
  return std::unique_ptr<SqliteCaseRepository>(new SqliteCaseRepository(std::move(db)));
}

absl::StatusOr<std::optional<StoredCase>> SqliteCaseRepository::Get(absl::string_view flag_id) {
  absl::MutexLock lock(&mu_);
  return GetLocked(flag_id);
}

absl::StatusOr<std::optional<StoredCase>> SqliteCaseRepository::GetLocked(
    absl::string_view flag_id) {
  PROV_ASSIGN_OR_RETURN(Statement * st, db_->Cached(absl::StrCat("SELECT ", kCaseColumns,
                                                                 " FROM cases WHERE flag_id = ?")));
  st->BindText(1, flag_id);
  auto row = st->Step();
  std::optional<StoredCase> out;
  if (row.ok() && *row) out = ReadRow(*st);
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return out;
}

absl::StatusOr<std::vector<std::string>> SqliteCaseRepository::Actions(absl::string_view flag_id) {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db_->Cached("SELECT action FROM case_actions WHERE flag_id = ? ORDER BY seq"));
  st->BindText(1, flag_id);
  std::vector<std::string> out;
  while (true) {
    auto more = st->Step();
    if (!more.ok()) {
      st->Reset();
      return more.status();
    }
    if (!*more) break;
    out.emplace_back(st->ColumnBlob(0));
  }
  st->Reset();
  return out;
}

absl::StatusOr<std::vector<StoredCase>> SqliteCaseRepository::List() {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(
      auto st, db_->Prepare(absl::StrCat("SELECT ", kCaseColumns, " FROM cases ORDER BY flag_id")));
  std::vector<StoredCase> out;
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back(ReadRow(*st));
  }
  return out;
}

absl::StatusOr<StoredCase> SqliteCaseRepository::Apply(absl::string_view flag_id, Decide decide) {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  PROV_ASSIGN_OR_RETURN(std::optional<StoredCase> stored, GetLocked(flag_id));
  PROV_ASSIGN_OR_RETURN(CaseChange change, decide(stored));
  PROV_RETURN_IF_ERROR(CheckCaseChange(flag_id, stored, change));
  const StoredCase& c = change.after;
  PROV_ASSIGN_OR_RETURN(Statement * ins,
                        db_->Cached("INSERT INTO case_actions(flag_id, seq, time_us, actor, "
                                    "action) VALUES (?, ?, ?, ?, ?)"));
  ins->BindText(1, c.flag_id);
  ins->BindInt64(2, static_cast<int64_t>(c.revision));
  ins->BindInt64(3, change.time_us);
  ins->BindText(4, change.actor);
  ins->BindBlob(5, change.action);
  absl::Status ran = ins->Run();
  ins->Reset();
  PROV_RETURN_IF_ERROR(ran);
  PROV_ASSIGN_OR_RETURN(
      Statement * up,
      db_->Cached("INSERT INTO cases(flag_id, status, disposition, assignee, duplicate_of, "
                  "revision, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(flag_id) DO "
                  "UPDATE SET status = excluded.status, disposition = excluded.disposition, "
                  "assignee = excluded.assignee, duplicate_of = excluded.duplicate_of, "
                  "revision = excluded.revision, updated_us = excluded.updated_us"));
  up->BindText(1, c.flag_id);
  up->BindInt64(2, c.status);
  up->BindInt64(3, c.disposition);
  up->BindText(4, c.assignee);
  up->BindText(5, c.duplicate_of);
  up->BindInt64(6, static_cast<int64_t>(c.revision));
  up->BindInt64(7, c.updated_us);
  ran = up->Run();
  up->Reset();
  PROV_RETURN_IF_ERROR(ran);
  PROV_RETURN_IF_ERROR(AppendAuditEntry(*db_, change.actor, change.audit_action,
                                        change.audit_payload, absl::FromUnixMicros(change.time_us))
                           .status());
  PROV_RETURN_IF_ERROR(txn.Commit());
  return c;
}

}  // namespace prov::server
