// SqliteExportRepository and SqliteExportSnapshotSource: the export records (repo/exports.h) and
// the export's read snapshot (repo/export_snapshot.h) on provd.db.
//
//   PROV_ASSIGN_OR_RETURN(auto records, SqliteExportRepository::Open(data_dir + "/provd.db"));
//   PROV_ASSIGN_OR_RETURN(auto source, SqliteExportSnapshotSource::Open(data_dir + "/provd.db"));
//
// The repository keeps two connections: a read-write one for the chain (Record is one BEGIN
// IMMEDIATE transaction: the newest export re-checked, the `exports` row, the "export" audit
// entry via AppendAuditEntry) and a read-only one for List / LastExportUs / Stats, so those answer
// while an export runs. Open migrates the schema (a no-op once provd's store has).
// The snapshot source keeps one read-only connection; Begin opens a read transaction (BEGIN: a
// WAL snapshot taken at the first read; ingest and analysis go on writing) that ends (COMMIT)
// when the snapshot is destroyed.
// Thread-safe: List / LastExportUs / Stats under one mutex, the chain under another (one chain at
// a time); a snapshot source serves one snapshot at a time.
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/repo/export_snapshot.h"
#include "server/store/repo/exports.h"
#include "server/store/sqlite.h"

namespace prov::server {

class SqliteExportRepository : public ExportRepository {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteExportRepository>> Open(const std::string& db_path);

  absl::StatusOr<std::unique_ptr<ExportChain>> BeginChain() override;
  absl::StatusOr<bool> IdTaken(const std::string& export_id) override;
  absl::StatusOr<std::vector<ExportRecord>> List() override;
  absl::StatusOr<std::optional<int64_t>> LastExportUs(const std::string& trigger) override;
  absl::StatusOr<std::map<std::string, ExportTriggerCount>> Stats() override;

 private:
  class Chain;
  SqliteExportRepository(std::unique_ptr<SqliteDb> write_db, std::unique_ptr<SqliteDb> read_db)
      : write_db_(std::move(write_db)), read_db_(std::move(read_db)) {}

  absl::Mutex write_mu_;
  std::unique_ptr<SqliteDb> write_db_ ABSL_GUARDED_BY(write_mu_);
  absl::Mutex read_mu_;
  std::unique_ptr<SqliteDb> read_db_ ABSL_GUARDED_BY(read_mu_);
};

class SqliteExportSnapshotSource : public ExportSnapshotSource {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteExportSnapshotSource>> Open(
      const std::string& db_path);
  absl::StatusOr<std::unique_ptr<ExportSnapshot>> Begin() override;

 private:
  explicit SqliteExportSnapshotSource(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace prov::server
