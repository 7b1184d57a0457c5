#include "server/access/denial_auditor.h"

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status_macros.h"
#include "server/access/role.h"
#include "server/store/repo/audit_log.h"
#include "server/store/sqlite/sqlite_audit_appender.h"

namespace prov::server {

absl::StatusOr<std::unique_ptr<DenialAuditor>> DenialAuditor::Open(const std::string& db_path,
                                                                   const Clock& clock,
                                                                   DenialAuditLimits limits) {
  PROV_ASSIGN_OR_RETURN(auto appender, SqliteAuditAppender::Open(db_path));
  return Create(std::move(appender), clock, limits);
}

std::unique_ptr<DenialAuditor> DenialAuditor::Create(std::unique_ptr<AuditAppender> appender,
                                                     const Clock& clock, DenialAuditLimits limits) {
  return std::unique_ptr<DenialAuditor>(new DenialAuditor(std::move(appender), clock, limits));
}

void DenialAuditor::Record(const provenance::v1::Principal& who, const std::string& rpc,
                           provenance::v1::Role need) {
  Write(who.actor(), "access.denied",
        {{"rpc", rpc}, {"need", RoleName(need)}, {"role", RoleName(who.role())}});
}

void DenialAuditor::RecordNodeRefusal(const std::string& cert_node_id,
                                      const std::string& claimed_node_id, int64_t streams,
                                      absl::Time first_at, absl::Time last_at) {
  Write(absl::StrCat("node:", cert_node_id), "node.identity_mismatch",
        {{"cert_node_id", cert_node_id},
         {"claimed_node_id", claimed_node_id},
         {"streams", absl::StrCat(streams)},
         {"first_at", absl::FormatTime(absl::RFC3339_sec, first_at, absl::UTCTimeZone())},
         {"last_at", absl::FormatTime(absl::RFC3339_sec, last_at, absl::UTCTimeZone())}});
}

void DenialAuditor::RecordLandmarkRefusal(const std::string& landmark_id, int64_t records,
                                          const std::string& reasons, const std::string& first) {
  Write(absl::StrCat("landmark:", landmark_id), "location.records_refused",
        {{"landmark_id", landmark_id},
         {"records", absl::StrCat(records)},
         {"reasons", reasons},
         {"first", first}});
}

void DenialAuditor::Write(const std::string& actor_name, const std::string& action,
                          std::vector<std::pair<std::string, std::string>> fields) {
  const absl::Time now = clock_.Now();
  const int64_t window = absl::ToUnixSeconds(now) / 60;
  absl::MutexLock lock(&mu_);
  if (window != window_) {
    window_ = window;
    for (auto it = actors_.begin(); it != actors_.end();) {
      // Keep only what is still owed to the log (a count of entries left out).
      if (it->second.suppressed == 0) {
        actors_.erase(it++);
      } else {
        (it++)->second.written = 0;
      }
    }
  }
  auto it = actors_.find(actor_name);
  if (it == actors_.end()) {
    if (actors_.size() >= limits_.max_actors) {
      ++suppressed_;
      return;
    }
    it = actors_.emplace(actor_name, Actor{}).first;
  }
  Actor& actor = it->second;
  if (actor.written >= limits_.per_minute) {
    ++actor.suppressed;
    ++suppressed_;
    return;
  }
  if (actor.suppressed != 0) fields.emplace_back("suppressed", absl::StrCat(actor.suppressed));
  const std::string payload = AuditPayload(fields);
  absl::Status s = appender_->Append({actor_name, action, payload, now});
  if (!s.ok()) {
    ++write_errors_;
    PROV_LOG_ERROR("auditlog", "audit log entry not written", {"action", action},
                   {"actor", actor_name}, {"error", s});
    return;
  }
  ++actor.written;
  actor.suppressed = 0;
  ++recorded_;
}

uint64_t DenialAuditor::recorded() const {
  absl::MutexLock lock(&mu_);
  return recorded_;
}
uint64_t DenialAuditor::suppressed() const {
  absl::MutexLock lock(&mu_);
  return suppressed_;
}
uint64_t DenialAuditor::write_errors() const {
  absl::MutexLock lock(&mu_);
  return write_errors_;
}

}  // namespace prov::server
