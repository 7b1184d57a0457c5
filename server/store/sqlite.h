// Thin RAII wrappers over the SQLite C API with absl::Status errors.
//
//   PROV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open("/var/lib/provd/provd.db",
//   SqliteDb::kReadWrite)); PROV_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
//   PROV_ASSIGN_OR_RETURN(Statement* st, db->Cached("SELECT id FROM nodes WHERE node_id = ?"));
//   st->BindText(1, node_id);
//   PROV_ASSIGN_OR_RETURN(bool row, st->Step());
//   if (row) id = st->ColumnInt64(0);
//   st->Reset();
//
// Errors carry SQLite's message and the statement text. Codes: UNAVAILABLE for a busy or locked
// database (Step), RESOURCE_EXHAUSTED for SQLITE_FULL (no space left where the database lives),
// INTERNAL for anything else. Thread-safety: a SqliteDb and its
// statements belong to one thread at a time (callers serialize; the store's writer connection is
// used only by the writer thread, read connections are handed out one query at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace prov::server {

class Statement {
 public:
  Statement(sqlite3_stmt* stmt, std::string sql) : stmt_(stmt), sql_(std::move(sql)) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameter indexes start at 1, as in SQLite.
  void BindInt64(int index, int64_t value);
  void BindDouble(int index, double value);
  void BindText(int index, absl::string_view value);
  void BindBlob(int index, absl::string_view value);
  void BindNull(int index);

  // true: a row is available; false: done. Errors name the statement.
  absl::StatusOr<bool> Step();
  // Step() for statements that return no rows.
  absl::Status Run();
  // Resets the statement and clears its bindings so it can be reused.
  void Reset();

  int64_t ColumnInt64(int column) const;
  double ColumnDouble(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  sqlite3_stmt* stmt_;
  std::string sql_;
};

class SqliteDb {
 public:
  enum Mode { kReadWrite, kReadOnly };
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path, Mode mode);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  absl::Status Exec(absl::string_view sql);
  // A fresh statement owned by the caller.
  absl::StatusOr<std::unique_ptr<Statement>> Prepare(absl::string_view sql);
  // A statement cached by its SQL text, owned by this connection; Reset() it after use.
  absl::StatusOr<Statement*> Cached(absl::string_view sql);
  int64_t LastInsertRowId() const;
  int Changes() const;
  // The raw handle, for registering SQL functions.
  sqlite3* raw() const { return db_; }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  absl::Status Error(absl::string_view what) const;
  sqlite3* db_;
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> cache_;
};

}  // namespace prov::server
