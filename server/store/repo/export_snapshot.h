// ExportSnapshot: the read side of an audit export, every table read from ONE consistent
// snapshot of the store, on either engine: SqliteExportSnapshotSource (server/store/sqlite/: a
// read transaction on a read-only connection, a WAL snapshot) or PgExportSnapshotSource
// (server/store/pg/: BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY). The export's table code
// (server/export/export_tables*.cc) reads through it only, so the files it writes are the same
// bytes for the same stored rows on both engines.
//
//   PROV_ASSIGN_OR_RETURN(std::unique_ptr<ExportSnapshot> snap, source->Begin());
//   PROV_ASSIGN_OR_RETURN(integrity::ChainAnchor head, snap->AuditHead());
//   PROV_ASSIGN_OR_RETURN(auto c, snap->Query("SELECT flag_id, flag FROM flags ORDER BY flag_id"));
//   while (true) {
//     PROV_ASSIGN_OR_RETURN(bool row, c->Next());
//     if (!row) break;
//     use(c->Text(0), c->Blob(1));
//   }
//   // the snapshot ends when `snap` is destroyed (every cursor must be gone by then)
//
// The SQL is the dialect both engines share: plain SELECTs over the tables SCHEMA.md lists, an
// explicit ORDER BY on every row set (text keys compare byte-wise on both: SQLite's BINARY
// collation, PostgreSQL's COLLATE "C" columns), integer parameters written $1, $2, ... (SQLite
// gets ?1, ?2, ...). Values: Text (NULL: ""), Int64 and Double (NULL: 0), Blob (a BLOB / bytea
// column's bytes). PostgreSQL reads a cursor 1,000 rows at a time, so memory does not grow with
// the table; a value that does not convert (Int64 of "x") fails the cursor's next Next()
// (DATA_LOSS naming the column). Several cursors may be open at once (a merge of two scans).
// Thread-compatible: one thread uses a snapshot and its cursors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/integrity/hash_chain.h"

namespace prov::server {

class ExportCursor {
 public:
  virtual ~ExportCursor() = default;
  // Moves to the next row: false when there is none.
  virtual absl::StatusOr<bool> Next() = 0;
  virtual bool IsNull(int column) const = 0;
  virtual std::string Text(int column) const = 0;
  virtual int64_t Int64(int column) const = 0;
  virtual double Double(int column) const = 0;
  virtual std::string Blob(int column) const = 0;
};

class ExportSnapshot {
 public:
  virtual ~ExportSnapshot() = default;
  virtual absl::StatusOr<std::unique_ptr<ExportCursor>> Query(
      absl::string_view sql, const std::vector<int64_t>& params = {}) = 0;
  // The newest audit entry in the snapshot (seq 0 and the genesis hash when the log is empty).
  virtual absl::StatusOr<integrity::ChainAnchor> AuditHead() = 0;
};

class ExportSnapshotSource {
 public:
  virtual ~ExportSnapshotSource() = default;
  // Starts a snapshot (one at a time per source).
  virtual absl::StatusOr<std::unique_ptr<ExportSnapshot>> Begin() = 0;
};

// "?1" for "$1": the SQLite form of the shared dialect's parameters.
std::string SqliteParams(absl::string_view sql);

}  // namespace prov::server
