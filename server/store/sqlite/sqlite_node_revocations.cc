#include "server/store/sqlite/sqlite_node_revocations.h"

#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

StoredRevocation RevocationOf(const Statement& st) {
  return {st.ColumnText(0), absl::FromUnixMicros(st.ColumnInt64(1)), st.ColumnText(2),
          st.ColumnText(3)};
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteNodeRevocationRepository>>
SqliteNodeRevocationRepository::Open(const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(MigrateSchema(*db));
  return std::unique_ptr<SqliteNodeRevocationRepository>(
      new SqliteNodeRevocationRepository(std::move(db)));
}

absl::StatusOr<StoredRevocation> SqliteNodeRevocationRepository::Revoke(const StoredRevocation& r,
                                                                        const AuditRecord& audit) {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  PROV_ASSIGN_OR_RETURN(
      Statement * insert,
      db_->Cached("INSERT OR IGNORE INTO node_revocations(node_id, revoked_at_us, revoked_by, "
                  "reason) VALUES (?1, ?2, ?3, ?4)"));
  insert->BindText(1, r.node_id);
  insert->BindInt64(2, absl::ToUnixMicros(r.revoked_at));
  insert->BindText(3, r.revoked_by);
  insert->BindText(4, r.reason);
  absl::Status inserted = insert->Run();
  insert->Reset();
  PROV_RETURN_IF_ERROR(inserted);
  PROV_ASSIGN_OR_RETURN(Statement * select,
                        db_->Cached("SELECT node_id, revoked_at_us, revoked_by, reason FROM "
                                    "node_revocations WHERE node_id = ?1"));
  select->BindText(1, r.node_id);
  absl::StatusOr<bool> row = select->Step();
  StoredRevocation stored;
  if (row.ok() && *row) stored = RevocationOf(*select);
  select->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  if (!*row) return absl::InternalError("node_revocations: the row just written is missing");
  PROV_RETURN_IF_ERROR(
      AppendAuditEntry(*db_, audit.actor, audit.action, audit.payload, audit.at).status());
  PROV_RETURN_IF_ERROR(txn.Commit());
  return stored;
}

absl::StatusOr<std::vector<StoredRevocation>> SqliteNodeRevocationRepository::List() {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(auto st,
                        db_->Prepare("SELECT node_id, revoked_at_us, revoked_by, reason FROM "
                                     "node_revocations ORDER BY revoked_at_us DESC, node_id"));
  std::vector<StoredRevocation> out;
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back(RevocationOf(*st));
  }
  return out;
}

absl::StatusOr<int64_t> SqliteNodeRevocationRepository::Revision() {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(Statement * st, db_->Cached("SELECT count(*) FROM node_revocations"));
  absl::StatusOr<bool> row = st->Step();
  const int64_t revision = row.ok() && *row ? st->ColumnInt64(0) : 0;
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return revision;
}

}  // namespace prov::server
