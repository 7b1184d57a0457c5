#include "server/export/retention.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/auditlog/audit_log.h"
#include "server/store/sqlite/sqlite_retention.h"

namespace prov::server {

absl::StatusOr<std::unique_ptr<RetentionPruner>> RetentionPruner::Create(
    std::unique_ptr<RetentionRepository> repo, const Clock& clock, absl::Duration retention) {
  if (retention <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("retention: must be positive");
  }
  if (repo == nullptr) return absl::InvalidArgumentError("retention: a repository is required");
  return std::unique_ptr<RetentionPruner>(new RetentionPruner(std::move(repo), clock, retention));
}

absl::StatusOr<std::unique_ptr<RetentionPruner>> RetentionPruner::Open(const std::string& db_path,
                                                                       const Clock& clock,
                                                                       absl::Duration retention) {
  if (retention <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("retention: must be positive");
  }
  PROV_ASSIGN_OR_RETURN(auto repo, SqliteRetentionRepository::Open(db_path));
  return Create(std::move(repo), clock, retention);
}

absl::StatusOr<PruneCounts> RetentionPruner::Prune(const std::string& actor) {
  const absl::Time now = clock_.Now();
  PruneCounts n;
  n.cutoff_us = absl::ToUnixMicros(now - retention_);
  PROV_ASSIGN_OR_RETURN(n.reports, repo_->DeleteReports(n.cutoff_us, kBatchRows));
  PROV_ASSIGN_OR_RETURN(n.usage_hours, repo_->DeleteUsageHours(n.cutoff_us, kBatchRows));
  PROV_ASSIGN_OR_RETURN(n.workload_details, repo_->DeleteWorkloadDetails(n.cutoff_us, kBatchRows));
  PROV_ASSIGN_OR_RETURN(n.workloads, repo_->DeleteWorkloads(n.cutoff_us, kBatchRows));
  PROV_ASSIGN_OR_RETURN(n.case_actions, repo_->DeleteCaseActions(n.cutoff_us, kBatchRows));
  const std::string cutoff = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%E*SZ", absl::FromUnixMicros(n.cutoff_us), absl::UTCTimeZone());
  PROV_RETURN_IF_ERROR(repo_->RecordPrune(
      {actor, "retention.prune",
       AuditPayload({{"cutoff", cutoff},
                     {"retention_days", absl::StrCat(absl::ToInt64Hours(retention_) / 24)},
                     {"reports", absl::StrCat(n.reports)},
                     {"usage_hours", absl::StrCat(n.usage_hours)},
                     {"workloads", absl::StrCat(n.workloads)},
                     {"workload_details", absl::StrCat(n.workload_details)},
                     {"case_actions", absl::StrCat(n.case_actions)}}),
       now}));
  return n;
}

absl::StatusOr<std::optional<absl::Time>> RetentionPruner::LastPruneTime() {
  return repo_->LastPruneTime();
}

}  // namespace prov::server
