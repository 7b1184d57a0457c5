#include "server/export/retention.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/auditlog/audit_log.h"
#include "server/store/connection.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

constexpr char kReports[] =
    "DELETE FROM reports WHERE id IN (SELECT id FROM reports WHERE collected_at_us < ?1 "
    "ORDER BY id LIMIT ?2)";
// An hour is kept until all of it is older than the cutoff.
constexpr char kUsageHours[] =
    "DELETE FROM account_usage_hourly WHERE (account, hour_us) IN (SELECT account, hour_us "
    "FROM account_usage_hourly WHERE hour_us + 3600000000 <= ?1 LIMIT ?2)";
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

absl::StatusOr<std::unique_ptr<RetentionPruner>> RetentionPruner::Open(const std::string& db_path,
                                                                       const Clock& clock,
                                                                       absl::Duration retention) {
  if (retention <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("retention: must be positive");
  }
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadWrite));
  return std::unique_ptr<RetentionPruner>(new RetentionPruner(std::move(db), clock, retention));
}

absl::StatusOr<uint64_t> RetentionPruner::DeleteInBatches(const std::string& sql,
                                                          int64_t cutoff_us) {
  uint64_t total = 0;
  while (true) {
    PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
    PROV_ASSIGN_OR_RETURN(Statement * st, db_->Cached(sql));
    st->BindInt64(1, cutoff_us);
    st->BindInt64(2, kBatchRows);
    absl::Status ran = st->Run();
    st->Reset();
    PROV_RETURN_IF_ERROR(ran);
    const int deleted = db_->Changes();
    PROV_RETURN_IF_ERROR(txn.Commit());
    total += static_cast<uint64_t>(deleted);
    if (deleted < kBatchRows) return total;
  }
}

absl::StatusOr<PruneCounts> RetentionPruner::Prune(const std::string& actor) {
  const absl::Time now = clock_.Now();
  PruneCounts n;
  n.cutoff_us = absl::ToUnixMicros(now - retention_);
  PROV_ASSIGN_OR_RETURN(n.reports, DeleteInBatches(kReports, n.cutoff_us));
  PROV_ASSIGN_OR_RETURN(n.usage_hours, DeleteInBatches(kUsageHours, n.cutoff_us));
  PROV_ASSIGN_OR_RETURN(n.workload_details, DeleteInBatches(kWorkloadDetails, n.cutoff_us));
  PROV_ASSIGN_OR_RETURN(n.workloads, DeleteInBatches(kWorkloads, n.cutoff_us));
  PROV_ASSIGN_OR_RETURN(n.case_actions, DeleteInBatches(kCaseActions, n.cutoff_us));
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  const std::string cutoff = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%E*SZ", absl::FromUnixMicros(n.cutoff_us), absl::UTCTimeZone());
  PROV_RETURN_IF_ERROR(
      AppendAuditEntry(
          *db_, actor, "retention.prune",
          AuditPayload({{"cutoff", cutoff},
                        {"retention_days", absl::StrCat(absl::ToInt64Hours(retention_) / 24)},
                        {"reports", absl::StrCat(n.reports)},
                        {"usage_hours", absl::StrCat(n.usage_hours)},
                        {"workloads", absl::StrCat(n.workloads)},
                        {"workload_details", absl::StrCat(n.workload_details)},
                        {"case_actions", absl::StrCat(n.case_actions)}}),
          now)
          .status());
  PROV_RETURN_IF_ERROR(txn.Commit());
  return n;
}

absl::StatusOr<std::optional<absl::Time>> RetentionPruner::LastPruneTime() {
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
