// Transaction: one SQLite transaction on a connection, or nothing when the connection is already
// inside one (the outer owner commits). Rolls back on destruction unless Commit() succeeded.
//
//   PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
//   ... statements ...
//   PROV_RETURN_IF_ERROR(txn.Commit());
//
// kWrite uses BEGIN IMMEDIATE (takes the write lock up front, so busy_timeout applies at the
// start rather than failing half-way); kRead uses BEGIN (a consistent snapshot under WAL).
// Thread-compatible, like the connection.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/sqlite.h"

namespace prov::server {

class Transaction {
 public:
  enum Kind { kRead, kWrite };
  static absl::StatusOr<Transaction> Begin(SqliteDb& db, Kind kind);
  Transaction(Transaction&& other) noexcept : db_(other.db_), owned_(other.owned_) {
    other.owned_ = false;
  }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  // Commits when this object opened the transaction; otherwise a no-op.
  absl::Status Commit();
  // Whether this object opened (and will end) the transaction.
  bool owned() const { return owned_; }

 private:
  Transaction(SqliteDb* db, bool owned) : db_(db), owned_(owned) {}
  SqliteDb* db_;
  bool owned_;
};

}  // namespace prov::server
