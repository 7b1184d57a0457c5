#include "server/store/sqlite/sqlite_exports.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

absl::StatusOr<PreviousExport> NewestExport(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT export_id, created_us, manifest_sha256 FROM "
                                            "exports ORDER BY created_us DESC, export_id DESC "
                                            "LIMIT 1"));
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  PreviousExport p;
  if (row) p = {st->ColumnText(0), st->ColumnInt64(1), st->ColumnText(2)};
  return p;
}

absl::StatusOr<bool> ExportIdTaken(SqliteDb& db, const std::string& id) {
  PROV_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT 1 FROM exports WHERE export_id = ?"));
  st->BindText(1, id);
  return st->Step();
}

class SqliteCursor : public ExportCursor {
 public:
  explicit SqliteCursor(std::unique_ptr<Statement> st) : st_(std::move(st)) {}
  absl::StatusOr<bool> Next() override { return st_->Step(); }
  bool IsNull(int c) const override { return st_->ColumnIsNull(c); }
  std::string Text(int c) const override { return st_->ColumnText(c); }
  int64_t Int64(int c) const override { return st_->ColumnInt64(c); }
  double Double(int c) const override { return st_->ColumnDouble(c); }
  std::string Blob(int c) const override { return st_->ColumnBlob(c); }

 private:
  std::unique_ptr<Statement> st_;
};

class SqliteSnapshot : public ExportSnapshot {
 public:
  explicit SqliteSnapshot(SqliteDb& db) : db_(db) {}
  ~SqliteSnapshot() override { (void)db_.Exec("COMMIT"); }
  absl::StatusOr<std::unique_ptr<ExportCursor>> Query(absl::string_view sql,
                                                      const std::vector<int64_t>& params) override {
    PROV_ASSIGN_OR_RETURN(auto st, db_.Prepare(SqliteParams(sql)));
    for (size_t i = 0; i < params.size(); ++i) st->BindInt64(static_cast<int>(i + 1), params[i]);
    return std::unique_ptr<ExportCursor>(new SqliteCursor(std::move(st)));
  }
  absl::StatusOr<integrity::ChainAnchor> AuditHead() override {
    return ::prov::server::AuditHead(db_);
  }

 private:
  SqliteDb& db_;
};

}  // namespace

class SqliteExportRepository::Chain : public ExportChain {
 public:
  Chain(SqliteExportRepository& repo, PreviousExport previous)
      : repo_(repo), previous_(std::move(previous)) {}
  ~Chain() override ABSL_NO_THREAD_SAFETY_ANALYSIS { repo_.write_mu_.Unlock(); }
  const PreviousExport& previous() const override { return previous_; }
  absl::StatusOr<bool> IdTaken(const std::string& export_id) override
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return ExportIdTaken(*repo_.write_db_, export_id);
  }
  absl::Status Record(const ExportRecord& row,
                      const AuditRecord& audit) override ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (recorded_) return absl::FailedPreconditionError("export chain: already recorded");
    PROV_RETURN_IF_ERROR(CheckExportRecord(row, previous_));
    SqliteDb& db = *repo_.write_db_;
    PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
    PROV_ASSIGN_OR_RETURN(PreviousExport newest, NewestExport(db));
    if (newest.manifest_sha256 != previous_.manifest_sha256) {
      return absl::AbortedError(absl::StrCat("another export (", newest.export_id,
                                             ") was recorded meanwhile; not chaining to it"));
    }
    PROV_ASSIGN_OR_RETURN(auto ins, db.Prepare("INSERT INTO exports (export_id, created_us, "
                                               "trigger, path, manifest_sha256, "
                                               "previous_manifest_sha256, audit_head_seq, "
                                               "audit_head_hash, summary) VALUES "
                                               "(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    ins->BindText(1, row.export_id);
    ins->BindInt64(2, row.created_us);
    ins->BindText(3, row.trigger);
    ins->BindText(4, row.path);
    ins->BindText(5, row.manifest_sha256);
    ins->BindText(6, row.previous_manifest_sha256);
    ins->BindInt64(7, row.audit_head_seq);
    ins->BindText(8, row.audit_head_hash);
    ins->BindBlob(9, row.summary);
    PROV_RETURN_IF_ERROR(ins->Run());
    PROV_RETURN_IF_ERROR(
        AppendAuditEntry(db, audit.actor, audit.action, audit.payload, audit.at).status());
    PROV_RETURN_IF_ERROR(txn.Commit());
    recorded_ = true;
    return absl::OkStatus();
  }

 private:
  SqliteExportRepository& repo_;
  const PreviousExport previous_;
  bool recorded_ = false;
};

absl::StatusOr<std::unique_ptr<SqliteExportRepository>> SqliteExportRepository::Open(
    const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto write_db, OpenConnection(db_path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(MigrateSchema(*write_db));
  PROV_ASSIGN_OR_RETURN(auto read_db, OpenConnection(db_path, SqliteDb::kReadOnly));
  return std::unique_ptr<SqliteExportRepository>(
      new SqliteExportRepository(std::move(write_db), std::move(read_db)));
}

absl::StatusOr<std::unique_ptr<ExportChain>> SqliteExportRepository::BeginChain()
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  write_mu_.Lock();  // released by the Chain's destructor
  absl::StatusOr<PreviousExport> newest = NewestExport(*write_db_);
  if (!newest.ok()) {
    write_mu_.Unlock();
    return newest.status();
  }
  return std::unique_ptr<ExportChain>(new Chain(*this, *std::move(newest)));
}

absl::StatusOr<bool> SqliteExportRepository::IdTaken(const std::string& export_id) {
  absl::MutexLock lock(&read_mu_);
  return ExportIdTaken(*read_db_, export_id);
}

absl::StatusOr<std::vector<ExportRecord>> SqliteExportRepository::List() {
  absl::MutexLock lock(&read_mu_);
  PROV_ASSIGN_OR_RETURN(
      auto st, read_db_->Prepare("SELECT export_id, created_us, trigger, path, manifest_sha256, "
                                 "previous_manifest_sha256, audit_head_seq, audit_head_hash, "
                                 "summary FROM exports ORDER BY created_us, export_id"));
  std::vector<ExportRecord> out;
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back({st->ColumnText(0), st->ColumnInt64(1), st->ColumnText(2), st->ColumnText(3),
                   st->ColumnText(4), st->ColumnText(5), st->ColumnInt64(6), st->ColumnText(7),
                   st->ColumnBlob(8)});
  }
  return out;
}

absl::StatusOr<std::optional<int64_t>> SqliteExportRepository::LastExportUs(
    const std::string& trigger) {
  absl::MutexLock lock(&read_mu_);
  PROV_ASSIGN_OR_RETURN(auto st, read_db_->Prepare("SELECT MAX(created_us) FROM exports WHERE "
                                                   "? = '' OR trigger = ?"));
  st->BindText(1, trigger);
  st->BindText(2, trigger);
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row || st->ColumnIsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(st->ColumnInt64(0));
}

absl::StatusOr<std::map<std::string, ExportTriggerCount>> SqliteExportRepository::Stats() {
  absl::MutexLock lock(&read_mu_);
  PROV_ASSIGN_OR_RETURN(auto st, read_db_->Prepare("SELECT trigger, COUNT(*), MAX(created_us) "
                                                   "FROM exports GROUP BY trigger"));
  std::map<std::string, ExportTriggerCount> out;
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out[st->ColumnText(0)] = {static_cast<uint64_t>(st->ColumnInt64(1)), st->ColumnInt64(2)};
  }
  return out;
}

absl::StatusOr<std::unique_ptr<SqliteExportSnapshotSource>> SqliteExportSnapshotSource::Open(
    const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadOnly));
  return std::unique_ptr<SqliteExportSnapshotSource>(new SqliteExportSnapshotSource(std::move(db)));
}

absl::StatusOr<std::unique_ptr<ExportSnapshot>> SqliteExportSnapshotSource::Begin() {
  PROV_RETURN_IF_ERROR(db_->Exec("BEGIN"));
  return std::unique_ptr<ExportSnapshot>(new SqliteSnapshot(*db_));
}

}  // namespace prov::server
