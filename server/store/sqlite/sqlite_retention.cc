#include "server/store/sqlite/sqlite_retention.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

// An hour is kept until all of it is older than the cutoff (?1 here is cutoff - 1 h); one
// account at a time, through the (account, hour_us) key.
constexpr char kUsageHours[] =
    "DELETE FROM account_usage_hourly WHERE (account, hour_us) IN (SELECT account, hour_us "
    "FROM account_usage_hourly WHERE account = ?3 AND hour_us <= ?1 LIMIT ?2)";
constexpr char kWorkloadDetails[] =
    "DELETE FROM workload_details WHERE (node, workload_id) IN (SELECT d.node, d.workload_id "
    "FROM workload_details d JOIN workloads w ON w.node = d.node AND w.workload_id = "
    "d.workload_id WHERE w.last_seen_us < ?1 LIMIT ?2)";
constexpr char kWorkloads[] =
    "DELETE FROM workloads WHERE id IN (SELECT id FROM workloads WHERE last_seen_us < ?1 "
    "LIMIT ?2)";
// Status 4 = FLAG_STATUS_RESOLVED (analysis.proto).
constexpr char kCaseActions[] =
    "DELETE FROM case_actions WHERE (flag_id, seq) IN (SELECT a.flag_id, a.seq FROM "
    "case_actions a JOIN cases c ON c.flag_id = a.flag_id WHERE c.status = 4 AND "
    "c.updated_us < ?1 AND a.time_us < ?1 LIMIT ?2)";

}  // namespace

absl::Status CheckBatchRows(int batch_rows) {
  if (batch_rows < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("retention: batch_rows must be at least 1, not ", batch_rows));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SqliteRetentionRepository>> SqliteRetentionRepository::Open(
    const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(MigrateSchema(*db));
  return std::unique_ptr<SqliteRetentionRepository>(new SqliteRetentionRepository(std::move(db)));
}

absl::StatusOr<uint64_t> SqliteRetentionRepository::DeleteInBatches(const std::string& sql,
                                                                    int64_t cutoff_us,
                                                                    int batch_rows,
                                                                    const std::string* account) {
  PROV_RETURN_IF_ERROR(CheckBatchRows(batch_rows));
  uint64_t total = 0;
  while (true) {
    PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
    PROV_ASSIGN_OR_RETURN(Statement * st, db_->Cached(sql));
    st->BindInt64(1, cutoff_us);
    st->BindInt64(2, batch_rows);
    if (account != nullptr) st->BindText(3, *account);
    absl::Status ran = st->Run();
    st->Reset();
    PROV_RETURN_IF_ERROR(ran);
    const int deleted = db_->Changes();
    PROV_RETURN_IF_ERROR(txn.Commit());
    total += static_cast<uint64_t>(deleted);
    if (deleted < batch_rows) return total;
  }
}

// Reports in id (= arrival) order from the oldest: a batch of rows is read, those collected
// before the cutoff deleted, and the walk stops at the first report received after the cutoff
// (everything later arrived later), so a pass never scans the young bulk of the table. A report
// collected before the cutoff but received after it goes in a later pass.
absl::StatusOr<uint64_t> SqliteRetentionRepository::DeleteReports(int64_t cutoff_us,
                                                                  int batch_rows) {
  PROV_RETURN_IF_ERROR(CheckBatchRows(batch_rows));
  uint64_t total = 0;
  int64_t cursor = 0;
  while (true) {
    PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
    std::vector<int64_t> old;
    bool reached_young = false;
    int scanned = 0;
    {
      PROV_ASSIGN_OR_RETURN(
          Statement * st,
          db_->Cached("SELECT id, collected_at_us, received_at_us FROM reports WHERE id > ? "
                      "ORDER BY id LIMIT ?"));
      st->BindInt64(1, cursor);
      st->BindInt64(2, batch_rows);
      while (true) {
        absl::StatusOr<bool> row = st->Step();
        if (!row.ok()) {
          st->Reset();
          return row.status();
        }
        if (!*row) break;
        ++scanned;
        if (st->ColumnInt64(2) >= cutoff_us) {
          reached_young = true;
          break;
        }
        cursor = st->ColumnInt64(0);
        if (st->ColumnInt64(1) < cutoff_us) old.push_back(cursor);
      }
      st->Reset();
    }
    PROV_ASSIGN_OR_RETURN(Statement * del, db_->Cached("DELETE FROM reports WHERE id = ?"));
    for (int64_t id : old) {
      del->BindInt64(1, id);
      absl::Status ran = del->Run();
      del->Reset();
      PROV_RETURN_IF_ERROR(ran);
    }
    PROV_RETURN_IF_ERROR(txn.Commit());
    total += old.size();
    if (reached_young || scanned < batch_rows) return total;
  }
}

absl::StatusOr<uint64_t> SqliteRetentionRepository::DeleteUsageHours(int64_t cutoff_us,
                                                                     int batch_rows) {
  PROV_RETURN_IF_ERROR(CheckBatchRows(batch_rows));
  uint64_t total = 0;
  std::string account;
  bool first = true;
  while (true) {
    // The next account after `account`: one index seek each.
    PROV_ASSIGN_OR_RETURN(
        Statement * next,
        db_->Cached(first ? "SELECT account FROM account_usage_hourly ORDER BY account LIMIT 1"
                          : "SELECT account FROM account_usage_hourly WHERE account > ? "
                            "ORDER BY account LIMIT 1"));
    if (!first) next->BindText(1, account);
    absl::StatusOr<bool> row = next->Step();
    const bool has = row.ok() && *row;
    if (has) account = next->ColumnText(0);
    next->Reset();
    PROV_RETURN_IF_ERROR(row.status());
    if (!has) return total;
    first = false;
    PROV_ASSIGN_OR_RETURN(
        uint64_t n, DeleteInBatches(kUsageHours, cutoff_us - 3600000000, batch_rows, &account));
    total += n;
  }
}

absl::StatusOr<uint64_t> SqliteRetentionRepository::DeleteWorkloadDetails(int64_t cutoff_us,
                                                                          int batch_rows) {
  return DeleteInBatches(kWorkloadDetails, cutoff_us, batch_rows);
}

absl::StatusOr<uint64_t> SqliteRetentionRepository::DeleteWorkloads(int64_t cutoff_us,
                                                                    int batch_rows) {
  return DeleteInBatches(kWorkloads, cutoff_us, batch_rows);
}

absl::StatusOr<uint64_t> SqliteRetentionRepository::DeleteCaseActions(int64_t cutoff_us,
                                                                      int batch_rows) {
  return DeleteInBatches(kCaseActions, cutoff_us, batch_rows);
}

absl::Status SqliteRetentionRepository::RecordPrune(const AuditRecord& entry) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  PROV_RETURN_IF_ERROR(
      AppendAuditEntry(*db_, entry.actor, entry.action, entry.payload, entry.at).status());
  return txn.Commit();
}

absl::StatusOr<std::optional<absl::Time>> SqliteRetentionRepository::LastPruneTime() {
  PROV_ASSIGN_OR_RETURN(Statement * st, db_->Cached("SELECT time_us FROM audit_log WHERE action = "
                                                    "'retention.prune' ORDER BY seq DESC LIMIT 1"));
  absl::StatusOr<bool> row = st->Step();
  std::optional<absl::Time> out;
  if (row.ok() && *row) out = absl::FromUnixMicros(st->ColumnInt64(0));
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return out;
}

}  // namespace prov::server
