#include "server/access/denial_auditor.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/access/role.h"
#include "server/auditlog/audit_log.h"
#include "server/store/connection.h"
#include "server/store/transaction.h"

namespace prov::server {

absl::StatusOr<std::unique_ptr<DenialAuditor>> DenialAuditor::Open(const std::string& db_path,
                                                                   const Clock& clock,
                                                                   DenialAuditLimits limits) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadWrite));
  return std::unique_ptr<DenialAuditor>(new DenialAuditor(std::move(db), clock, limits));
}

void DenialAuditor::Record(const provenance::v1::Principal& who, const std::string& rpc,
                           provenance::v1::Role need) {
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
  auto it = actors_.find(who.actor());
  if (it == actors_.end()) {
    if (actors_.size() >= limits_.max_actors) {
      ++suppressed_;
      return;
    }
    it = actors_.emplace(who.actor(), Actor{}).first;
  }
  Actor& actor = it->second;
  if (actor.written >= limits_.per_minute) {
    ++actor.suppressed;
    ++suppressed_;
    return;
  }
  const std::string left_out = absl::StrCat(actor.suppressed);
  const std::string payload =
      actor.suppressed == 0
          ? AuditPayload({{"rpc", rpc}, {"need", RoleName(need)}, {"role", RoleName(who.role())}})
          : AuditPayload({{"rpc", rpc},
                          {"need", RoleName(need)},
                          {"role", RoleName(who.role())},
                          {"suppressed", left_out}});
  absl::Status s = [&]() -> absl::Status {
    PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
    PROV_RETURN_IF_ERROR(
        AppendAuditEntry(*db_, who.actor(), "access.denied", payload, now).status());
    return txn.Commit();
  }();
  if (!s.ok()) {
    ++write_errors_;
    std::fprintf(stderr, "provd: audit log: access.denied for %s not written: %s\n",
                 who.actor().c_str(), std::string(s.message()).c_str());
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
