#include "server/store/sqlite/sqlite_api_tokens.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

constexpr char kTokenColumns[] =
    "token_id, name, role, secret_sha256, created_us, created_by, revoked_us, expires_us";

StoredApiToken TokenOf(const Statement& st) {
  StoredApiToken t;
  t.token_id = st.ColumnText(0);
  t.name = st.ColumnText(1);
  t.role = st.ColumnInt64(2);
  t.secret_sha256 = st.ColumnText(3);
  t.created_at = absl::FromUnixMicros(st.ColumnInt64(4));
  t.created_by = st.ColumnText(5);
  if (st.ColumnInt64(6) != 0) t.revoked_at = absl::FromUnixMicros(st.ColumnInt64(6));
  if (st.ColumnInt64(7) != 0) t.expires_at = absl::FromUnixMicros(st.ColumnInt64(7));
  return t;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteApiTokenRepository>> SqliteApiTokenRepository::Open(
    const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(MigrateSchema(*db));
  return std::unique_ptr<SqliteApiTokenRepository>(new SqliteApiTokenRepository(std::move(db)));
}

absl::StatusOr<std::vector<StoredApiToken>> SqliteApiTokenRepository::LoadAll() {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(auto st, db_->Prepare(absl::StrCat("SELECT ", kTokenColumns,
                                                           " FROM api_tokens ORDER BY token_id")));
  std::vector<StoredApiToken> out;
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back(TokenOf(*st));
  }
  return out;
}

absl::StatusOr<int64_t> SqliteApiTokenRepository::Revision() {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db_->Cached("SELECT count(*) + count(NULLIF(revoked_us, 0)) FROM api_tokens"));
  absl::StatusOr<bool> row = st->Step();
  const int64_t revision = row.ok() && *row ? st->ColumnInt64(0) : 0;
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return revision;
}

absl::Status SqliteApiTokenRepository::InsertRow(const StoredApiToken& token,
                                                 const AuditRecord& audit) {
  // Under BEGIN IMMEDIATE nobody writes between this check and the INSERT.
  PROV_ASSIGN_OR_RETURN(
      Statement * taken,
      db_->Cached("SELECT token_id FROM api_tokens WHERE token_id = ? OR secret_sha256 = ?"));
  taken->BindText(1, token.token_id);
  taken->BindText(2, token.secret_sha256);
  absl::StatusOr<bool> clash = taken->Step();
  taken->Reset();
  PROV_RETURN_IF_ERROR(clash.status());
  if (*clash) {
    return absl::AlreadyExistsError(
        absl::StrCat("api_tokens: token_id ", token.token_id, " or its secret is taken"));
  }
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db_->Cached("INSERT INTO api_tokens(token_id, name, role, secret_sha256, "
                  "created_us, created_by, expires_us) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  st->BindText(1, token.token_id);
  st->BindText(2, token.name);
  st->BindInt64(3, token.role);
  st->BindText(4, token.secret_sha256);
  st->BindInt64(5, absl::ToUnixMicros(token.created_at));
  st->BindText(6, token.created_by);
  st->BindInt64(7, token.expires_at.has_value() ? absl::ToUnixMicros(*token.expires_at) : 0);
  absl::Status ran = st->Run();
  st->Reset();
  PROV_RETURN_IF_ERROR(ran);
  return AppendAuditEntry(*db_, audit.actor, audit.action, audit.payload, audit.at).status();
}

absl::Status SqliteApiTokenRepository::Insert(const StoredApiToken& token,
                                              const AuditRecord& audit) {
  PROV_RETURN_IF_ERROR(CheckNewApiToken(token));
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  PROV_RETURN_IF_ERROR(InsertRow(token, audit));
  return txn.Commit();
}

absl::StatusOr<bool> SqliteApiTokenRepository::InsertIfRoleVacant(const StoredApiToken& token,
                                                                  const AuditRecord& audit,
                                                                  absl::Time now) {
  PROV_RETURN_IF_ERROR(CheckNewApiToken(token));
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  PROV_ASSIGN_OR_RETURN(Statement * live,
                        db_->Cached("SELECT 1 FROM api_tokens WHERE role = ? AND revoked_us = 0 "
                                    "AND (expires_us = 0 OR expires_us > ?) LIMIT 1"));
  live->BindInt64(1, token.role);
  live->BindInt64(2, absl::ToUnixMicros(now));
  absl::StatusOr<bool> found = live->Step();
  live->Reset();
  PROV_RETURN_IF_ERROR(found.status());
  if (*found) return false;  // the transaction rolls back: nothing was written
  PROV_RETURN_IF_ERROR(InsertRow(token, audit));
  PROV_RETURN_IF_ERROR(txn.Commit());
  return true;
}

absl::StatusOr<std::optional<StoredApiToken>> SqliteApiTokenRepository::Find(
    const std::string& token_id) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db_->Cached(absl::StrCat("SELECT ", kTokenColumns, " FROM api_tokens WHERE token_id = ?")));
  st->BindText(1, token_id);
  absl::StatusOr<bool> row = st->Step();
  std::optional<StoredApiToken> out;
  if (row.ok() && *row) out = TokenOf(*st);
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return out;
}

absl::StatusOr<StoredApiToken> SqliteApiTokenRepository::Revoke(const std::string& token_id,
                                                                absl::Time at,
                                                                const AuditRecord& audit) {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db_->Cached("UPDATE api_tokens SET revoked_us = ? WHERE token_id = ? AND revoked_us = 0"));
  st->BindInt64(1, absl::ToUnixMicros(at));
  st->BindText(2, token_id);
  absl::Status ran = st->Run();
  st->Reset();
  PROV_RETURN_IF_ERROR(ran);
  const bool changed = db_->Changes() == 1;
  PROV_ASSIGN_OR_RETURN(std::optional<StoredApiToken> stored, Find(token_id));
  if (!stored.has_value())
    return absl::NotFoundError(absl::StrCat("token_id: no token ", token_id));
  if (changed) {
    PROV_RETURN_IF_ERROR(
        AppendAuditEntry(*db_, audit.actor, audit.action, audit.payload, audit.at).status());
  }
  PROV_RETURN_IF_ERROR(txn.Commit());
  return *std::move(stored);
}

}  // namespace prov::server
