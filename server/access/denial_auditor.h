// DenialAuditor: a known caller refused for too low a role (PERMISSION_DENIED) becomes an audit
// log entry, not only a counter (issue 14): action "access.denied", actor the caller, payload
// {"rpc": method, "need": role needed, "role": role held}.
//
//   PROV_ASSIGN_OR_RETURN(auto auditor, DenialAuditor::Open(db_path, clock, {.per_minute = 10}));
//   // or any engine's AuditAppender (server/store/repo/audit_appender.h):
//   //   DenialAuditor::Create(std::move(appender), clock, limits)
//   auditor->Record(principal, "/provenance.v1.AccessService/IssueToken", ROLE_ADMIN);
//
// So that a viewer cannot flood the audit log, at most `per_minute` entries are written per actor
// per clock minute (fixed window); the rest are counted (suppressed()) and the next entry that is
// written carries how many were left out before it ("suppressed"). At most `max_actors` actors
// are tracked per window. A failed write is counted (write_errors()) and never changes the answer
// the caller gets (PERMISSION_DENIED either way).
//
// Node refusals (issue 10): an agent stream whose client certificate names one node but whose
// report claims another is refused; RecordNodeRefusal writes action "node.identity_mismatch",
// actor "node:<certificate node>", payload {"cert_node_id", "claimed_node_id", "streams" (refused
// in this round), "first_at", "last_at"}, under the same per-actor limit.
//
// Thread-safe: entries are appended through its AuditAppender under its mutex, each in its own
// transaction (the denial is the whole change it records).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "provenance/v1/compliance.pb.h"
#include "server/store/repo/audit_appender.h"

namespace prov::server {

struct DenialAuditLimits {
  int per_minute = 10;
  size_t max_actors = 10000;
};

class DenialAuditor {
 public:
  // The SQLite appender on `db_path`.
  static absl::StatusOr<std::unique_ptr<DenialAuditor>> Open(const std::string& db_path,
                                                             const Clock& clock,
                                                             DenialAuditLimits limits);
  static std::unique_ptr<DenialAuditor> Create(std::unique_ptr<AuditAppender> appender,
                                               const Clock& clock, DenialAuditLimits limits);

  void Record(const provenance::v1::Principal& who, const std::string& rpc,
              provenance::v1::Role need);
  void RecordNodeRefusal(const std::string& cert_node_id, const std::string& claimed_node_id,
                         int64_t streams, absl::Time first_at, absl::Time last_at);

  // Landmark records refused (issue 11, LandmarkGateway): action "location.records_refused",
  // actor "landmark:<id>", payload {"landmark_id", "records" (refused in the call), "reasons"
  // ("replay:2,forged_answer:1"), "first" (the first refusal's sentence)}; same per-actor limit.
  void RecordLandmarkRefusal(const std::string& landmark_id, int64_t records,
                             const std::string& reasons, const std::string& first);

  uint64_t recorded() const;
  uint64_t suppressed() const;
  uint64_t write_errors() const;

 private:
  DenialAuditor(std::unique_ptr<AuditAppender> appender, const Clock& clock,
                DenialAuditLimits limits)
      : appender_(std::move(appender)), clock_(clock), limits_(limits) {}
  // Under the limit: writes the entry (payload gets "suppressed" when entries were left out).
  void Write(const std::string& actor, const std::string& action,
             std::vector<std::pair<std::string, std::string>> payload);

  mutable absl::Mutex mu_;
  const std::unique_ptr<AuditAppender> appender_;
  const Clock& clock_;
  const DenialAuditLimits limits_;
  int64_t window_ ABSL_GUARDED_BY(mu_) = -1;  // minutes since the epoch
  struct Actor {
    int written = 0;
    uint64_t suppressed = 0;  // since the last written entry
  };
  absl::flat_hash_map<std::string, Actor> actors_ ABSL_GUARDED_BY(mu_);
  uint64_t recorded_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t write_errors_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace prov::server
