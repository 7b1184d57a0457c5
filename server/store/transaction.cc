#include "server/store/transaction.h"

#include <sqlite3.h>

namespace prov::server {

absl::StatusOr<Transaction> Transaction::Begin(SqliteDb& db, Kind kind) {
  if (sqlite3_get_autocommit(db.raw()) == 0) return Transaction(&db, false);  // joined
  absl::Status begun = db.Exec(kind == kWrite ? "BEGIN IMMEDIATE" : "BEGIN");
  if (!begun.ok()) return begun;
  return Transaction(&db, true);
}

Transaction::~Transaction() {
  if (owned_) (void)db_->Exec("ROLLBACK");
}

absl::Status Transaction::Commit() {
  if (!owned_) return absl::OkStatus();
  absl::Status committed = db_->Exec("COMMIT");
  if (committed.ok()) owned_ = false;
  return committed;
}

}  // namespace prov::server
